//! Initial layout: which physical qubit starts holding each program qubit.
//!
//! First a bounded backtracking search for a swap-free embedding of the
//! program's interaction graph (VF2-style, gives 0 swaps for e.g. nearest-
//! neighbour circuits); otherwise SABRE's bidirectional refinement of
//! several starting layouts (trivial, dense, random), keeping the one whose
//! forward routing needs fewest swaps.

use super::routing::{Coupling, Dag, Layout, Rng, RouteScratch, Step, route_with};

pub(super) mod parallel;

/// How hard to search, by optimization level.
#[derive(Debug, Clone, Copy)]
pub struct Effort {
    /// Steps allowed to the embedding search (0 = skip).
    pub embed_budget: u64,
    /// Whether the trivial layout is a starting layout beside the dense
    /// one (level 1 starts from the dense layout alone: on programs that do
    /// not embed, such as QFT, it is the one that wins, and one trial
    /// halves the search).
    pub trivial_start: bool,
    /// Random starting layouts, beside trivial and dense.
    pub random_trials: usize,
    /// Forward-backward refinement rounds.
    pub rounds: usize,
    /// Take the layout the last backward pass leaves without scoring it
    /// (as Qiskit's SabreLayout does): saves a forward pass, and the
    /// pipeline's routing run from that layout is its score anyway. Off:
    /// every round's result is scored and the best one kept.
    pub trust_last: bool,
}

impl Effort {
    /// The effort of optimization level `level` (0-3).
    #[must_use]
    pub fn for_level(level: u8) -> Self {
        match level {
            0 => Self {
                embed_budget: 0,
                trivial_start: true,
                random_trials: 0,
                rounds: 0,
                trust_last: false,
            },
            // One forward-backward round from the dense layout: on QFT it
            // leaves ~0.75x Qiskit's level-1 2-qubit count, at half the
            // routing passes of two scored rounds.
            1 => Self {
                embed_budget: 20_000,
                trivial_start: false,
                random_trials: 0,
                rounds: 1,
                trust_last: true,
            },
            2 => Self {
                embed_budget: 100_000,
                trivial_start: true,
                random_trials: 2,
                rounds: 2,
                trust_last: false,
            },
            _ => Self {
                embed_budget: 500_000,
                trivial_start: true,
                random_trials: 18,
                rounds: 4,
                trust_last: false,
            },
        }
    }
}

/// Chooses initial layouts of `num_virtual` program qubits whose 2-qubit
/// interactions are `pairs` (in program order, each costing `costs[i].0`
/// native 2-qubit gates, `costs[i].1` when diagonal; empty: 2 each, not
/// diagonal) on `coupling`: the `keep` best
/// found, best first (fewer when fewer were tried).
///
/// For small programs each trial is cut short as soon as its routing cost
/// exceeds the `keep`-th best score so far; larger ones run their trials
/// independently (each cut only by its own best round, which costs fewer
/// passes there), shared with the compiler's helper thread when the machine
/// has a second core (see [`parallel::run_indexed`]). The result is
/// deterministic and the same on every machine.
pub fn choose(
    pairs: &[(u32, u32)],
    costs: &[(u8, bool)],
    num_virtual: usize,
    coupling: &Coupling,
    effort: Effort,
    seed: u64,
    keep: usize,
) -> Result<Vec<Layout>, String> {
    let n = coupling.len();
    let keep = keep.max(1);
    let trivial = complete(&(0..num_virtual as u32).collect::<Vec<_>>(), n);
    if pairs.is_empty() || effort.rounds == 0 && effort.embed_budget == 0 {
        return Ok(vec![trivial]);
    }
    if effort.embed_budget > 0
        && let Some(l) = embed(pairs, num_virtual, coupling, effort.embed_budget)
    {
        return Ok(vec![l]);
    }
    let forward = Dag::from_pairs(pairs, costs, n, false);
    let backward = Dag::from_pairs(pairs, costs, n, true);
    let mut rng = Rng::new(seed);
    let mut starts = vec![dense(pairs, num_virtual, coupling)];
    if effort.trivial_start {
        starts.push(trivial);
    }
    for _ in 0..effort.random_trials {
        let mut perm: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            perm.swap(i, rng.below(i + 1));
        }
        starts.push(Layout::from_v2p(perm));
    }
    // (cost, trial index, layout), best first; at most `keep`.
    let mut ranked: Vec<(u64, usize, Layout)> = Vec::with_capacity(keep + 1);
    let mut last_err = None;
    if pairs.len() >= 64 && starts.len() > 1 {
        // Larger programs: trials run independently (none is cut by the
        // others' scores), so they can be shared between threads.
        let count = starts.len();
        let trials = Trials { forward, backward, coupling: coupling.clone(), effort, seed, starts };
        for (own, err) in parallel::run_indexed(trials, count, Trials::run) {
            if err.is_some() {
                last_err = err;
            }
            ranked.extend(own);
        }
        // ties keep trial order
        ranked.sort_by_key(|(c, k, _)| (*c, *k));
        ranked.truncate(keep);
    } else {
        let search = Search { forward: &forward, backward: &backward, coupling, effort, seed };
        let mut memory = RouteScratch::default();
        for (k, start) in starts.into_iter().enumerate() {
            if let Some(e) = search.trial(k, start, &mut ranked, keep, &mut memory) {
                last_err = Some(e);
            }
        }
    }
    if ranked.is_empty() {
        return Err(
            last_err.unwrap_or_else(|| "the program does not fit the device's connectivity".into())
        );
    }
    Ok(ranked.into_iter().map(|(_, _, l)| l).collect())
}

/// The independent trials of one layout search, owned so that the helper
/// thread can take some of them.
struct Trials {
    forward: Dag,
    backward: Dag,
    coupling: Coupling,
    effort: Effort,
    seed: u64,
    starts: Vec<Layout>,
}

/// One trial's best layout (at most one) and the routing error that ended
/// it.
type TrialOutcome = (Vec<(u64, usize, Layout)>, Option<String>);

impl Trials {
    /// Runs trial `k` with the calling thread's routing `memory`.
    fn run(&self, memory: &mut RouteScratch, k: usize) -> TrialOutcome {
        let search = Search {
            forward: &self.forward,
            backward: &self.backward,
            coupling: &self.coupling,
            effort: self.effort,
            seed: self.seed,
        };
        let mut own = Vec::with_capacity(2);
        let err = search.trial(k, self.starts[k].clone(), &mut own, 1, memory);
        (own, err)
    }
}

struct Search<'a> {
    forward: &'a Dag,
    backward: &'a Dag,
    coupling: &'a Coupling,
    effort: Effort,
    seed: u64,
}

impl Search<'_> {
    /// Refines start layout number `k`, recording its best scored layouts
    /// in `ranked` (best first, at most `keep`, one per trial); returns a
    /// routing error that ended it. `memory` is the passes' working memory.
    fn trial(
        &self,
        k: usize,
        start: Layout,
        ranked: &mut Vec<(u64, usize, Layout)>,
        keep: usize,
        memory: &mut RouteScratch,
    ) -> Option<String> {
        let mut rng = Rng::new(self.seed ^ (k as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut scratch = trivial_scratch(self.coupling.len());
        // Every forward pass scores the layout it started from, so each
        // round's forward pass doubles as the score of the previous round's
        // result; refinement stops early when a round does not improve on
        // the trial's best (or nothing needs a swap).
        let mut layout = start;
        let mut best: Option<u64> = None;
        for round in 0..=self.effort.rounds {
            let bound = if ranked.len() >= keep { ranked[keep - 1].0 } else { u64::MAX };
            let limit = best.map_or(bound, |b| b.min(bound));
            scratch.clone_from(&layout);
            let r = match route_with(
                memory,
                self.forward,
                self.coupling,
                &mut scratch,
                &mut rng,
                limit,
                ignore,
            ) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => return Some(e),
            };
            let improved = best.is_none_or(|b| r.cost < b);
            if improved {
                best = Some(r.cost);
                let at = ranked.partition_point(|(c, _, _)| *c <= r.cost);
                if at < keep {
                    ranked.retain(|(_, t, _)| *t != k);
                    let at = ranked.partition_point(|(c, _, _)| *c <= r.cost);
                    ranked.insert(at, (r.cost, k, layout.clone()));
                    ranked.truncate(keep);
                }
            }
            if r.cost == 0 || round == self.effort.rounds || (round > 0 && !improved) {
                break;
            }
            if !matches!(
                route_with(
                    memory,
                    self.backward,
                    self.coupling,
                    &mut scratch,
                    &mut rng,
                    u64::MAX,
                    ignore,
                ),
                Ok(Some(_))
            ) {
                break;
            }
            std::mem::swap(&mut layout, &mut scratch);
            if self.effort.trust_last && round + 1 == self.effort.rounds {
                // Ranked by the score of the layout it was refined from.
                ranked.retain(|(_, t, _)| *t != k);
                let at = ranked.partition_point(|(c, _, _)| *c <= r.cost);
                ranked.insert(at, (r.cost, k, layout));
                ranked.truncate(keep);
                break;
            }
        }
        None
    }
}

/// The layout passes need no routed program: one function for both
/// directions keeps a single copy of the router for them.
fn ignore(_: Step, _: &Layout) {}

fn trivial_scratch(n: usize) -> Layout {
    Layout::from_v2p((0..n as u32).collect())
}

/// Extends a partial assignment of virtual qubits to a full permutation of
/// `n` physical qubits (ancillas fill the free ones in order).
fn complete(v2p_prefix: &[u32], n: usize) -> Layout {
    let mut used = vec![false; n];
    for &p in v2p_prefix {
        used[p as usize] = true;
    }
    let mut v2p = v2p_prefix.to_vec();
    v2p.extend((0..n as u32).filter(|&p| !used[p as usize]));
    Layout::from_v2p(v2p)
}

fn interaction_graph(pairs: &[(u32, u32)], num_virtual: usize) -> Vec<Vec<u32>> {
    let mut g = vec![Vec::new(); num_virtual];
    for &(a, b) in pairs {
        if !g[a as usize].contains(&b) {
            g[a as usize].push(b);
            g[b as usize].push(a);
        }
    }
    g
}

/// Program qubits by interaction degree, on a breadth-first walk from the
/// most-connected physical qubit.
fn dense(pairs: &[(u32, u32)], num_virtual: usize, coupling: &Coupling) -> Layout {
    let n = coupling.len();
    let g = interaction_graph(pairs, num_virtual);
    let start = (0..n as u32).max_by_key(|&p| coupling.neighbours(p).len()).unwrap_or(0);
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    let mut queue = std::collections::VecDeque::from([start]);
    seen[start as usize] = true;
    while let Some(p) = queue.pop_front() {
        order.push(p);
        for &nb in coupling.neighbours(p) {
            if !seen[nb as usize] {
                seen[nb as usize] = true;
                queue.push_back(nb);
            }
        }
    }
    order.extend((0..n as u32).filter(|&p| !seen[p as usize]));
    let mut virtuals: Vec<u32> = (0..num_virtual as u32).collect();
    virtuals.sort_by_key(|&v| std::cmp::Reverse(g[v as usize].len()));
    let mut v2p = vec![0u32; num_virtual];
    for (k, &v) in virtuals.iter().enumerate() {
        v2p[v as usize] = order[k];
    }
    complete(&v2p, n)
}

/// Backtracking search for an embedding of the interaction graph into the
/// coupling graph (a layout needing no swap), within `budget` steps.
fn embed(
    pairs: &[(u32, u32)],
    num_virtual: usize,
    coupling: &Coupling,
    budget: u64,
) -> Option<Layout> {
    let n = coupling.len();
    let g = interaction_graph(pairs, num_virtual);
    // Visit order: connected components, each breadth-first from its
    // highest-degree qubit, so each qubit after the first has a placed
    // neighbour whenever possible.
    let mut order: Vec<u32> = Vec::with_capacity(num_virtual);
    let mut placed_in_order = vec![false; num_virtual];
    let mut by_degree: Vec<u32> =
        (0..num_virtual as u32).filter(|&v| !g[v as usize].is_empty()).collect();
    by_degree.sort_by_key(|&v| std::cmp::Reverse(g[v as usize].len()));
    for &root in &by_degree {
        if placed_in_order[root as usize] {
            continue;
        }
        placed_in_order[root as usize] = true;
        let mut queue = std::collections::VecDeque::from([root]);
        while let Some(v) = queue.pop_front() {
            order.push(v);
            let mut next: Vec<u32> =
                g[v as usize].iter().copied().filter(|&u| !placed_in_order[u as usize]).collect();
            next.sort_by_key(|&u| std::cmp::Reverse(g[u as usize].len()));
            for u in next {
                placed_in_order[u as usize] = true;
                queue.push_back(u);
            }
        }
    }
    let mut v2p: Vec<Option<u32>> = vec![None; num_virtual];
    let mut used = vec![false; n];
    let mut steps = 0u64;
    if !place(0, &order, &g, coupling, &mut v2p, &mut used, &mut steps, budget) {
        return None;
    }
    // Idle program qubits go anywhere free.
    let mut free = (0..n as u32).filter(|&p| !used[p as usize]);
    let mut prefix = Vec::with_capacity(num_virtual);
    for slot in &v2p {
        prefix.push(match slot {
            Some(p) => *p,
            None => free.next()?,
        });
    }
    Some(complete(&prefix, n))
}

#[allow(clippy::too_many_arguments)]
fn place(
    k: usize,
    order: &[u32],
    g: &[Vec<u32>],
    coupling: &Coupling,
    v2p: &mut [Option<u32>],
    used: &mut [bool],
    steps: &mut u64,
    budget: u64,
) -> bool {
    let Some(&v) = order.get(k) else { return true };
    let anchor = g[v as usize].iter().find_map(|&u| v2p[u as usize]);
    let candidates: Vec<u32> = match anchor {
        Some(p) => coupling.neighbours(p).to_vec(),
        None => {
            let mut all: Vec<u32> = (0..coupling.len() as u32).collect();
            all.sort_by_key(|&p| std::cmp::Reverse(coupling.neighbours(p).len()));
            all
        }
    };
    for p in candidates {
        *steps += 1;
        if *steps > budget {
            return false;
        }
        if used[p as usize] || coupling.neighbours(p).len() < g[v as usize].len() {
            continue;
        }
        let fits = g[v as usize]
            .iter()
            .all(|&u| v2p[u as usize].is_none_or(|pu| coupling.dist(pu, p) == 1));
        if !fits {
            continue;
        }
        v2p[v as usize] = Some(p);
        used[p as usize] = true;
        if place(k + 1, order, g, coupling, v2p, used, steps, budget) {
            return true;
        }
        v2p[v as usize] = None;
        used[p as usize] = false;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use eigen_hal::topology;

    #[test]
    fn a_chain_embeds_into_heavy_hex_without_swaps() {
        let coupling = Coupling::new(27, &topology::heavy_hex_27());
        let pairs: Vec<(u32, u32)> = (0..11).map(|q| (q, q + 1)).collect();
        let l = embed(&pairs, 12, &coupling, 100_000).expect("a 12-chain fits heavy-hex");
        for &(a, b) in &pairs {
            assert_eq!(coupling.dist(l.v2p[a as usize], l.v2p[b as usize]), 1);
        }
    }

    /// Every pair of `n` qubits, twice: a program with no embedding.
    fn every_pair_twice(n: u32) -> Vec<(u32, u32)> {
        let once = (0..n).flat_map(|a| (a + 1..n).map(move |b| (a, b)));
        once.clone().chain(once).collect()
    }

    #[test]
    fn large_programs_rank_independent_trials() {
        // every pair of 9 qubits twice (72 pairs): no embedding, so the
        // level-2 search runs its 4 trials, all kept (the independent path)
        let coupling = Coupling::new(12, &topology::grid(3, 4));
        let pairs = every_pair_twice(9);
        let effort = Effort::for_level(2);
        let got = choose(&pairs, &[], 9, &coupling, effort, 7, 4).expect("layouts");
        // the same trials one after another
        let forward = Dag::from_pairs(&pairs, &[], 12, false);
        let backward = Dag::from_pairs(&pairs, &[], 12, true);
        let search =
            Search { forward: &forward, backward: &backward, coupling: &coupling, effort, seed: 7 };
        let mut rng = Rng::new(7);
        let mut starts =
            vec![dense(&pairs, 9, &coupling), complete(&(0..9).collect::<Vec<_>>(), 12)];
        for _ in 0..effort.random_trials {
            let mut perm: Vec<u32> = (0..12).collect();
            for i in (1..12).rev() {
                perm.swap(i, rng.below(i + 1));
            }
            starts.push(Layout::from_v2p(perm));
        }
        let mut ranked = Vec::new();
        let mut memory = RouteScratch::default();
        for (k, start) in starts.into_iter().enumerate() {
            assert!(search.trial(k, start, &mut ranked, 4, &mut memory).is_none());
        }
        let want: Vec<Layout> = ranked.into_iter().map(|(_, _, l)| l).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn level_one_refines_the_dense_layout_alone() {
        // every pair of 9 qubits twice: no embedding, enough pairs for the
        // independent-trials path at higher levels
        let coupling = Coupling::new(12, &topology::grid(3, 4));
        let pairs = every_pair_twice(9);
        let effort = Effort::for_level(1);
        let got = choose(&pairs, &[], 9, &coupling, effort, 7, 1).expect("layouts");
        let forward = Dag::from_pairs(&pairs, &[], 12, false);
        let backward = Dag::from_pairs(&pairs, &[], 12, true);
        let search =
            Search { forward: &forward, backward: &backward, coupling: &coupling, effort, seed: 7 };
        let mut ranked = Vec::new();
        let mut memory = RouteScratch::default();
        assert!(
            search.trial(0, dense(&pairs, 9, &coupling), &mut ranked, 1, &mut memory).is_none()
        );
        let want: Vec<Layout> = ranked.into_iter().map(|(_, _, l)| l).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_triangle_does_not_embed_into_a_grid() {
        let coupling = Coupling::new(9, &topology::grid(3, 3));
        assert!(embed(&[(0, 1), (1, 2), (2, 0)], 3, &coupling, 100_000).is_none());
        let l = choose(&[(0, 1), (1, 2), (2, 0)], &[], 3, &coupling, Effort::for_level(1), 7, 2)
            .expect("layout");
        assert!(!l.is_empty() && l.len() <= 2);
        assert_eq!(l[0].v2p.len(), 9);
    }
}
