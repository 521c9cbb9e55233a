//! Weighting methods.
