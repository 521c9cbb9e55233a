-- ballast schema, version 6: the paper replay's clock lives beside the bots it moves
-- (it was paper.json, rewritten and renamed at every bar). One row; absent until a
-- replay first moves.
CREATE TABLE replay_clock (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    now INTEGER NOT NULL
);
