-- ballast schema, version 3: orders safe across installations and lost answers.
-- The installation's tag, part of every client order id it writes (drawn at random
-- by the first store that opens the file), and each order's acceptance deadline: the
-- last moment the venue may accept the request (NULL for orders written before).
CREATE TABLE installation (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    order_tag TEXT    NOT NULL
);
ALTER TABLE orders ADD COLUMN expires_at INTEGER;
