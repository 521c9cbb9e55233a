//! The small dense linear algebra the risk-based methods need (matrices up to ~20x20):
//! Cholesky factorisation and solve, and the eigenvalues of a symmetric matrix by
//! cyclic Jacobi rotations. Matrices are square, row-major `Vec<f64>` of side `n`.

/// The lower-triangular Cholesky factor `L` (row-major, `L Lᵀ = a`) of the symmetric
/// `n`x`n` matrix `a`, or `None` when `a` is not numerically positive definite.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    debug_assert_eq!(a.len(), n * n);
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for p in 0..j {
                s -= l[i * n + p] * l[j * n + p];
            }
            if i == j {
                if !s.is_finite() || s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b` given the Cholesky factor `l` from [`cholesky`].
pub(crate) fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    debug_assert_eq!(b.len(), n);
    let mut x = b.to_vec();
    for i in 0..n {
        let mut s = x[i];
        for p in 0..i {
            s -= l[i * n + p] * x[p];
        }
        x[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = x[i];
        for p in i + 1..n {
            s -= l[p * n + i] * x[p];
        }
        x[i] = s / l[i * n + i];
    }
    x
}

/// `a x` for the `n`x`n` matrix `a`.
pub(crate) fn mat_vec(a: &[f64], n: usize, x: &[f64]) -> Vec<f64> {
    (0..n).map(|i| a[i * n..(i + 1) * n].iter().zip(x).map(|(aij, xj)| aij * xj).sum()).collect()
}

/// `xᵀ a x` for the `n`x`n` matrix `a`.
pub(crate) fn quad_form(a: &[f64], n: usize, x: &[f64]) -> f64 {
    mat_vec(a, n, x).iter().zip(x).map(|(ax, xi)| ax * xi).sum()
}

/// Jacobi stops when the squared off-diagonal mass is below this fraction of the total.
const OFF_DIAGONAL_TOL: f64 = (64.0 * f64::EPSILON) * (64.0 * f64::EPSILON);

/// The eigenvalues of the symmetric `n`x`n` matrix `a`, ascending, by cyclic Jacobi
/// rotations (accurate to ~1e-14 of the matrix's Frobenius norm; quadratic
/// convergence takes 6 to 10 sweeps for a 20x20 matrix, the cap is 100).
pub(crate) fn symmetric_eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
    debug_assert_eq!(a.len(), n * n);
    let mut m = a.to_vec();
    for _sweep in 0..100 {
        let mut off = 0.0;
        let mut total = 0.0;
        for i in 0..n {
            for j in 0..n {
                let v = m[i * n + j] * m[i * n + j];
                total += v;
                if i != j {
                    off += v;
                }
            }
        }
        // Rounding keeps the off-diagonal mass at ~1e-32 of the total; stop at the
        // level of a few hundred ulps (eigenvalues then accurate to ~1e-14 of the norm).
        if off <= OFF_DIAGONAL_TOL * total || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + theta.hypot(1.0));
                let c = 1.0 / t.hypot(1.0);
                let s = t * c;
                for k in 0..n {
                    let (kp, kq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * kp - s * kq;
                    m[k * n + q] = s * kp + c * kq;
                }
                for k in 0..n {
                    let (pk, qk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * pk - s * qk;
                    m[q * n + k] = s * pk + c * qk;
                }
            }
        }
    }
    let mut eig: Vec<f64> = (0..n).map(|i| m[i * n + i]).collect();
    eig.sort_by(f64::total_cmp);
    eig
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_spd_system() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        let x = cholesky_solve(&l, 3, &[1.0, 2.0, 3.0]);
        let ax = mat_vec(&a, 3, &x);
        for (got, want) in ax.iter().zip([1.0, 2.0, 3.0]) {
            assert!((got - want).abs() < 1e-14, "{got} vs {want}");
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none(), "indefinite");
        assert!(cholesky(&[1.0, 1.0, 1.0, 1.0], 2).is_none(), "singular");
    }

    #[test]
    fn jacobi_eigenvalues_match_known_ones() {
        // [[2,1],[1,2]] has eigenvalues 1 and 3.
        let e = symmetric_eigenvalues(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((e[0] - 1.0).abs() < 1e-14 && (e[1] - 3.0).abs() < 1e-14, "{e:?}");
        // The tridiagonal [-1, 2, -1] matrix of side n has eigenvalues 2 - 2cos(k pi/(n+1)).
        let n = 9;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = 2.0;
            if i + 1 < n {
                a[i * n + i + 1] = -1.0;
                a[(i + 1) * n + i] = -1.0;
            }
        }
        let e = symmetric_eigenvalues(&a, n);
        for (k, got) in e.iter().enumerate() {
            let want = 2.0 - 2.0 * ((k + 1) as f64 * std::f64::consts::PI / (n + 1) as f64).cos();
            assert!((got - want).abs() < 1e-13, "eigenvalue {k}: {got} vs {want}");
        }
    }
}
