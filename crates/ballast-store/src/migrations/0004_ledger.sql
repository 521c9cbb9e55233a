-- ballast schema, version 4: the running ledger. What each bot holds of each asset and
-- the fees it paid in it, kept up to date in the transaction that records a fill or a
-- cash flow (decimal text, exact), so that a step reads a few rows instead of every
-- fill of the bot's life. Filled from the records when this migration is applied.
CREATE TABLE ledger (
    bot_id INTEGER NOT NULL REFERENCES bots (id),
    asset  TEXT    NOT NULL,
    held   TEXT    NOT NULL,
    fees   TEXT    NOT NULL,
    PRIMARY KEY (bot_id, asset)
) WITHOUT ROWID;

-- The open orders of a bot, which every step asks about: a partial index, so the
-- question costs the same however many final orders the bot has.
CREATE INDEX orders_open ON orders (bot_id, created_at, seq, leg)
    WHERE state IN ('pending', 'unknown', 'new', 'partially_filled');
