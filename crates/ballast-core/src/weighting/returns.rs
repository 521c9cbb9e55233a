//! Aligned return series, the input of the risk-based methods.

use crate::asset::Asset;
use crate::error::CoreError;

use super::err;

/// Aligned simple-return series, one column per asset, all the same length, all
/// finite. The columns are kept in symbol order whatever order they were given in,
/// which is what makes every method independent of the order of its input.
///
/// The caller slices the history up to `now`; nothing here looks at anything else.
#[derive(Clone, Debug, PartialEq)]
pub struct ReturnMatrix {
    assets: Vec<Asset>,
    /// Column-major: `columns[i][t]` is the return of `assets[i]` over period `t`.
    columns: Vec<Vec<f64>>,
}

const WHAT: &str = "returns";

impl ReturnMatrix {
    /// Return series as given: `columns[i]` holds the returns of `assets[i]`
    /// (`0.01` is +1 %). Errors name the culprit: no asset, an asset listed twice, a
    /// column count that does not match the assets, columns of different lengths, a
    /// NaN or infinite return (with its index).
    pub fn from_returns(assets: Vec<Asset>, columns: Vec<Vec<f64>>) -> Result<Self, CoreError> {
        if assets.is_empty() {
            return Err(err(WHAT, "no assets given; at least one is needed"));
        }
        if assets.len() != columns.len() {
            return Err(err(WHAT, format!("{} assets but {} return series", assets.len(), columns.len())));
        }
        let len = columns[0].len();
        for (asset, column) in assets.iter().zip(&columns) {
            if column.len() != len {
                return Err(err(
                    WHAT,
                    format!(
                        "{asset} has {} observations but {} has {len}: the series must be aligned",
                        column.len(),
                        assets[0]
                    ),
                ));
            }
            if let Some((t, v)) = column.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(err(WHAT, format!("{asset}: return at index {t} is {v}; returns must be finite")));
            }
        }
        let mut pairs: Vec<(Asset, Vec<f64>)> = assets.into_iter().zip(columns).collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(err(WHAT, format!("{} is listed twice", w[0].0)));
        }
        let (assets, columns) = pairs.into_iter().unzip();
        Ok(Self { assets, columns })
    }

    /// Simple returns `p[t] / p[t-1] - 1` of aligned close series (`closes[i]` are the
    /// closes of `assets[i]`, all the same length; `k` closes give `k - 1` returns).
    /// A non-positive or non-finite price is an error naming the asset and the index.
    pub fn from_closes(assets: Vec<Asset>, closes: &[Vec<f64>]) -> Result<Self, CoreError> {
        if assets.len() != closes.len() {
            return Err(err(WHAT, format!("{} assets but {} close series", assets.len(), closes.len())));
        }
        let mut columns = Vec::with_capacity(closes.len());
        for (asset, series) in assets.iter().zip(closes) {
            if let Some((t, p)) = series.iter().enumerate().find(|(_, p)| !p.is_finite() || **p <= 0.0) {
                return Err(err(
                    WHAT,
                    format!("{asset}: close at index {t} is {p}; prices must be finite and greater than zero"),
                ));
            }
            columns.push(series.windows(2).map(|w| w[1] / w[0] - 1.0).collect());
        }
        Self::from_returns(assets, columns)
    }

    /// The assets, in symbol order.
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// The number of observations (periods) per asset.
    pub fn len(&self) -> usize {
        self.columns[0].len()
    }

    /// True when there are no observations.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The returns of one asset, or `None` for an asset not in the matrix.
    pub fn column(&self, asset: &Asset) -> Option<&[f64]> {
        self.assets.binary_search(asset).ok().map(|i| self.columns[i].as_slice())
    }

    /// The columns in the order of [`assets`](Self::assets).
    pub(crate) fn columns(&self) -> &[Vec<f64>] {
        &self.columns
    }
}
