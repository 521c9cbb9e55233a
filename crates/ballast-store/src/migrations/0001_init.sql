-- ballast schema, version 1.
-- Decimals are TEXT (exact, never REAL), timestamps INTEGER milliseconds since the
-- Unix epoch (UTC), enums their snake_case text, JSON TEXT.

CREATE TABLE bots (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    venue         TEXT    NOT NULL,
    config_toml   TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'paused', 'stopped')),
    status_reason TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
-- A name is unique among the bots that are not stopped.
CREATE UNIQUE INDEX bots_live_name ON bots (name) WHERE status <> 'stopped';

-- The engine's opaque state of a bot.
CREATE TABLE bot_state (
    bot_id     INTEGER PRIMARY KEY REFERENCES bots (id),
    state_json TEXT    NOT NULL
);

-- Order intents (written before the order is sent) and what is known about them.
CREATE TABLE orders (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id     TEXT    NOT NULL UNIQUE,
    bot_id        INTEGER NOT NULL REFERENCES bots (id),
    seq           INTEGER NOT NULL,
    leg           INTEGER NOT NULL,
    base          TEXT    NOT NULL,
    quote         TEXT    NOT NULL,
    side          TEXT    NOT NULL CHECK (side IN ('buy', 'sell')),
    qty           TEXT    NOT NULL,
    kind          TEXT    NOT NULL, -- OrderKind as JSON
    planned_price TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'unknown', 'new', 'partially_filled', 'filled',
                                                    'canceled', 'rejected', 'expired', 'not_sent')),
    venue_id      TEXT,
    filled        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX orders_bot_time ON orders (bot_id, created_at, seq, leg);

-- Executions of orders; a (client id, trade id) is stored once.
CREATE TABLE fills (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT    NOT NULL REFERENCES orders (client_id),
    trade_id  TEXT    NOT NULL,
    qty       TEXT    NOT NULL,
    price     TEXT    NOT NULL,
    fee       TEXT    NOT NULL,
    fee_asset TEXT    NOT NULL,
    time      INTEGER NOT NULL,
    UNIQUE (client_id, trade_id)
);

-- Money moved into or out of a bot.
CREATE TABLE cash_flows (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id INTEGER NOT NULL REFERENCES bots (id),
    time   INTEGER NOT NULL,
    asset  TEXT    NOT NULL,
    qty    TEXT    NOT NULL,
    value  TEXT    NOT NULL,
    note   TEXT    NOT NULL
);
CREATE INDEX cash_flows_bot_time ON cash_flows (bot_id, time);

-- A bot at one moment.
CREATE TABLE snapshots (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id       INTEGER NOT NULL REFERENCES bots (id),
    time         INTEGER NOT NULL,
    value        TEXT    NOT NULL,
    holdings     TEXT    NOT NULL, -- JSON object asset -> decimal string
    prices       TEXT    NOT NULL, -- JSON object asset -> decimal string
    net_invested TEXT    NOT NULL,
    hodl_value   TEXT    NOT NULL,
    fees_paid    TEXT    NOT NULL
);
CREATE INDEX snapshots_bot_time ON snapshots (bot_id, time);

-- Things that happened to a bot.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id  INTEGER NOT NULL REFERENCES bots (id),
    time    INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    message TEXT    NOT NULL,
    data    TEXT    NOT NULL -- JSON
);
CREATE INDEX events_bot_time ON events (bot_id, time);
