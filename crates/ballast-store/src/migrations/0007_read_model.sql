-- ballast schema: the read model (issue 14). Counts of each bot's orders by state and
-- of its events by kind, kept on write by triggers in the transaction that inserts or
-- changes the row (whichever code writes it), so `/metrics` and the bots list read a
-- few rows per bot instead of every order and event of its life. Filled from the
-- records when this migration is applied; `Store::order_counts` and
-- `Store::event_counts` read them, and the store's tests check them against a count of
-- the rows.
CREATE TABLE order_counts (
    bot_id INTEGER NOT NULL,
    state  TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (bot_id, state)
) WITHOUT ROWID;
INSERT INTO order_counts (bot_id, state, n) SELECT bot_id, state, COUNT(*) FROM orders GROUP BY bot_id, state;

CREATE TRIGGER order_counts_insert AFTER INSERT ON orders BEGIN
    INSERT INTO order_counts (bot_id, state, n) VALUES (NEW.bot_id, NEW.state, 1)
        ON CONFLICT (bot_id, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER order_counts_update AFTER UPDATE OF state ON orders WHEN OLD.state <> NEW.state BEGIN
    UPDATE order_counts SET n = n - 1 WHERE bot_id = OLD.bot_id AND state = OLD.state;
    INSERT INTO order_counts (bot_id, state, n) VALUES (NEW.bot_id, NEW.state, 1)
        ON CONFLICT (bot_id, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER order_counts_delete AFTER DELETE ON orders BEGIN
    UPDATE order_counts SET n = n - 1 WHERE bot_id = OLD.bot_id AND state = OLD.state;
END;

CREATE TABLE event_counts (
    bot_id INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (bot_id, kind)
) WITHOUT ROWID;
INSERT INTO event_counts (bot_id, kind, n) SELECT bot_id, kind, COUNT(*) FROM events GROUP BY bot_id, kind;

CREATE TRIGGER event_counts_insert AFTER INSERT ON events BEGIN
    INSERT INTO event_counts (bot_id, kind, n) VALUES (NEW.bot_id, NEW.kind, 1)
        ON CONFLICT (bot_id, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER event_counts_delete AFTER DELETE ON events BEGIN
    UPDATE event_counts SET n = n - 1 WHERE bot_id = OLD.bot_id AND kind = OLD.kind;
END;

-- Pages of a bot's orders, newest first, filtered or not (`Store::orders_page`).
CREATE INDEX orders_bot_id ON orders (bot_id, id);
