//! The store contract (`ballast_store::sqlite::contract`) against every SQLite flavour.

mod in_memory {
    use ballast_store::sqlite::SqliteStore;

    ballast_store::store_contract_tests!(|| (SqliteStore::open_in_memory().expect("open in memory"), ()));
}

mod file_backed {
    use ballast_store::sqlite::SqliteStore;

    ballast_store::store_contract_tests!(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("ballast.db")).expect("open file");
        (store, dir)
    });
}

/// Every promise holds while the writes are grouped (a runner's round of steps).
mod grouped {
    use ballast_store::Store;
    use ballast_store::sqlite::SqliteStore;

    ballast_store::store_contract_tests!(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("ballast.db")).expect("open file");
        store.begin_group().expect("begin a group");
        (store, dir)
    });
}
