//! Market data loading and backtesting for ballast.
