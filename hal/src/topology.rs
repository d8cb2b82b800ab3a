//! Coupling-map generators for common chip layouts.
//!
//! Each function returns the undirected edges of the layout as `(a, b)` pairs
//! with `a < b`, listed once. [`crate::Target::connected`] treats the map as
//! undirected, which matches symmetric natives such as `cz`; a device whose
//! native 2-qubit gate is directed lists the direction it calibrates instead
//! (the compiler fixes the other direction with 1-qubit gates).

/// A line `0 - 1 - ... - (n-1)`; empty for `n < 2`.
#[must_use]
pub fn line(n: u32) -> Vec<(u32, u32)> {
    (1..n).map(|q| (q - 1, q)).collect()
}

/// A ring: the line plus the edge `(0, n-1)` when `n >= 3` (for `n < 3`
/// the ring degenerates to the line, without a duplicated edge).
#[must_use]
pub fn ring(n: u32) -> Vec<(u32, u32)> {
    let mut edges = line(n);
    if n >= 3 {
        edges.push((0, n - 1));
    }
    edges
}

/// A `rows x cols` grid in row-major numbering: qubit `r * cols + c` is
/// coupled to its right and lower neighbours.
#[must_use]
pub fn grid(rows: u32, cols: u32) -> Vec<(u32, u32)> {
    let mut edges = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let q = r * cols + c;
            if c + 1 < cols {
                edges.push((q, q + 1));
            }
            if r + 1 < rows {
                edges.push((q, q + cols));
            }
        }
    }
    edges
}

/// The 27-qubit heavy-hex lattice of IBM's Falcon r4 processors
/// (ibmq_montreal, ibm_cairo, ...): 28 edges, qubit degrees 1 to 3.
#[must_use]
pub fn heavy_hex_27() -> Vec<(u32, u32)> {
    vec![
        (0, 1),
        (1, 2),
        (1, 4),
        (2, 3),
        (3, 5),
        (4, 7),
        (5, 8),
        (6, 7),
        (7, 10),
        (8, 9),
        (8, 11),
        (10, 12),
        (11, 14),
        (12, 13),
        (12, 15),
        (13, 14),
        (14, 16),
        (15, 18),
        (16, 19),
        (17, 18),
        (18, 21),
        (19, 20),
        (19, 22),
        (21, 23),
        (22, 25),
        (23, 24),
        (24, 25),
        (25, 26),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, VecDeque};

    /// True when every one of `n` qubits is reachable from qubit 0.
    fn is_connected(n: u32, edges: &[(u32, u32)]) -> bool {
        let mut seen = vec![false; n as usize];
        let mut queue = VecDeque::from([0u32]);
        seen[0] = true;
        while let Some(q) = queue.pop_front() {
            for &(a, b) in edges {
                let other = if a == q {
                    b
                } else if b == q {
                    a
                } else {
                    continue;
                };
                if !seen[other as usize] {
                    seen[other as usize] = true;
                    queue.push_back(other);
                }
            }
        }
        seen.iter().all(|&s| s)
    }

    fn no_duplicates(edges: &[(u32, u32)]) -> bool {
        let set: BTreeSet<(u32, u32)> = edges.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect();
        set.len() == edges.len() && edges.iter().all(|&(a, b)| a != b)
    }

    #[test]
    fn line_and_ring_shapes() {
        assert_eq!(line(4), vec![(0, 1), (1, 2), (2, 3)]);
        assert!(line(1).is_empty());
        assert_eq!(ring(4).len(), 4);
        assert_eq!(ring(2), vec![(0, 1)]);
        assert!(is_connected(5, &ring(5)) && no_duplicates(&ring(5)));
    }

    #[test]
    fn grid_has_expected_edges() {
        let g = grid(5, 5);
        assert_eq!(g.len(), 2 * 5 * 4);
        assert!(g.contains(&(0, 1)) && g.contains(&(0, 5)) && !g.contains(&(4, 5)));
        assert!(is_connected(25, &g) && no_duplicates(&g));
    }

    #[test]
    fn heavy_hex_is_falcon_shaped() {
        let h = heavy_hex_27();
        assert_eq!(h.len(), 28);
        assert!(is_connected(27, &h) && no_duplicates(&h));
        let mut degree = [0u32; 27];
        for &(a, b) in &h {
            degree[a as usize] += 1;
            degree[b as usize] += 1;
        }
        assert!(degree.iter().all(|&d| (1..=3).contains(&d)));
        assert_eq!(degree.iter().filter(|&&d| d == 3).count(), 8);
    }
}
