-- ballast schema, version 5: indexes for the paged history (a rebalance's orders by
-- sequence number, events by row id), so a page costs the same whatever a bot's age.
CREATE INDEX orders_bot_seq ON orders (bot_id, seq, leg);
CREATE INDEX events_bot_id ON events (bot_id, id);
