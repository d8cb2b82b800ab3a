//! SABRE-style routing (Li, Ding, Xie 2019): walk the dependency graph's
//! front layer, run every gate whose qubits are adjacent, otherwise insert
//! the swap that best shortens the front layer and a lookahead ("extended")
//! set, with a decay that spreads swaps over qubits.
//!
//! Contract: the emitted sequence, read with the layout current at each
//! step, performs the input's operations in a dependency-respecting order,
//! and every 2-qubit operation lands on coupled physical qubits.

use eigen_hal::Operation;

mod blocks;

use blocks::Blocks;

const UNREACHABLE: u32 = u32::MAX;
/// Size of the lookahead set (weighted one half, see `route`).
const EXTENDED_SET: usize = 20;
/// Swaps before the decay resets. The decay of a qubit is
/// `1 + k / DECAY_SCALE` after `k` swaps on it since the last reset.
const DECAY_RESET: u32 = 5;
const DECAY_SCALE: i64 = 1000;

/// The device's connectivity with all-pairs distances.
#[derive(Debug, Clone)]
pub struct Coupling {
    n: usize,
    adj: Vec<Vec<u32>>,
    dist: Vec<u32>,
    directed: std::collections::HashSet<(u32, u32)>,
}

impl Coupling {
    /// Builds the map of `n` physical qubits from directed `edges`
    /// (treated as undirected for adjacency). Edges out of range are ignored
    /// (the caller validates the target).
    #[must_use]
    pub fn new(n: usize, edges: &[(u32, u32)]) -> Self {
        let mut adj = vec![Vec::new(); n];
        let mut directed = std::collections::HashSet::new();
        for &(a, b) in edges {
            if a == b || a as usize >= n || b as usize >= n {
                continue;
            }
            directed.insert((a, b));
            if !adj[a as usize].contains(&b) {
                adj[a as usize].push(b);
                adj[b as usize].push(a);
            }
        }
        let mut dist = vec![UNREACHABLE; n * n];
        let mut queue = std::collections::VecDeque::new();
        for s in 0..n {
            dist[s * n + s] = 0;
            queue.push_back(s as u32);
            while let Some(q) = queue.pop_front() {
                let d = dist[s * n + q as usize];
                for &nb in &adj[q as usize] {
                    if dist[s * n + nb as usize] == UNREACHABLE {
                        dist[s * n + nb as usize] = d + 1;
                        queue.push_back(nb);
                    }
                }
            }
        }
        Self { n, adj, dist, directed }
    }

    /// The number of physical qubits.
    #[must_use]
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the map has no qubits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Hops between physical qubits (`u32::MAX` when disconnected).
    #[must_use]
    pub fn dist(&self, a: u32, b: u32) -> u32 {
        self.dist[a as usize * self.n + b as usize]
    }

    /// Hops from `a` to every physical qubit (indexed by qubit).
    #[must_use]
    pub fn dist_row(&self, a: u32) -> &[u32] {
        &self.dist[a as usize * self.n..(a as usize + 1) * self.n]
    }

    /// True when reachable from one another.
    #[must_use]
    pub fn reachable(&self, a: u32, b: u32) -> bool {
        self.dist(a, b) != UNREACHABLE
    }

    /// The neighbours of `p`.
    #[must_use]
    pub fn neighbours(&self, p: u32) -> &[u32] {
        &self.adj[p as usize]
    }

    /// True when a directed gate may run as `(control, target)` = `(a, b)`.
    #[must_use]
    pub fn has_direction(&self, a: u32, b: u32) -> bool {
        self.directed.contains(&(a, b))
    }
}

/// A bijection of virtual to physical qubits (virtual qubits beyond the
/// program's are idle ancillas).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Physical qubit of each virtual qubit.
    pub v2p: Vec<u32>,
    /// Virtual qubit on each physical qubit.
    pub p2v: Vec<u32>,
}

impl Layout {
    /// Builds from a virtual-to-physical permutation of `0..n`.
    #[must_use]
    pub fn from_v2p(v2p: Vec<u32>) -> Self {
        let mut p2v = vec![0; v2p.len()];
        for (v, &p) in v2p.iter().enumerate() {
            p2v[p as usize] = v as u32;
        }
        Self { v2p, p2v }
    }

    /// Swaps the contents of physical qubits `a` and `b`.
    pub fn swap(&mut self, a: u32, b: u32) {
        let (va, vb) = (self.p2v[a as usize], self.p2v[b as usize]);
        self.p2v.swap(a as usize, b as usize);
        self.v2p[va as usize] = b;
        self.v2p[vb as usize] = a;
    }
}

/// The dependency graph the router walks.
#[derive(Debug, Clone)]
pub struct Dag {
    /// For each node, its virtual qubit pair when it needs adjacency.
    pub pair: Vec<Option<(u32, u32)>>,
    /// For each node, its estimated cost in native 2-qubit gates (0 for
    /// nodes without a pair).
    weight: Vec<u8>,
    /// For each node, whether it is a diagonal gate (commutes with the
    /// other diagonal gates on its qubits).
    diagonal: Vec<bool>,
    /// For each 1-qubit node, its virtual qubit (`u32::MAX` otherwise).
    single: Vec<u32>,
    /// The successors of node `i`, in node order, are
    /// `succ[succ_start[i]..succ_start[i + 1]]` (one array: the router
    /// walks them at every step).
    succ_start: Vec<u32>,
    succ: Vec<u32>,
    indeg: Vec<u32>,
}

/// What the router knows of one node.
struct NodeInfo {
    pair: Option<(u32, u32)>,
    weight: u8,
    diagonal: bool,
    single: u32,
}

/// The estimated native 2-qubit gate count of a 2-qubit `gate`: the router
/// uses it to see which swaps merge with a neighbouring gate on the same
/// pair (any 2-qubit block costs at most three).
#[must_use]
pub fn two_qubit_weight(gate: &eigen_hal::Gate) -> u8 {
    use eigen_hal::Gate;
    match gate {
        Gate::Cx | Gate::Cy | Gate::Cz | Gate::Ch | Gate::Ecr => 1,
        Gate::Swap | Gate::Iswap | Gate::Unitary2(_) | Gate::Cu(..) => 3,
        _ => 2,
    }
}

impl Dag {
    /// Builds the graph of `ops` on `num_qubits` virtual qubits; nodes are
    /// op indices. Classical bits are wires too (measure -> condition).
    #[must_use]
    pub fn from_ops(ops: &[Operation], num_qubits: usize) -> Self {
        let mut dag = Self::with_capacity(ops.len());
        let mut last: Vec<Option<u32>> = vec![None; num_qubits + eigen_hal::circuit::MAX_CLBITS];
        let mut w: Vec<usize> = Vec::with_capacity(8);
        let mut edges = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            w.clear();
            let clbit = |c: u32| num_qubits + c as usize;
            let mut info = NodeInfo { pair: None, weight: 0, diagonal: false, single: u32::MAX };
            match op {
                Operation::Gate { gate, qubits, condition } => {
                    w.extend(qubits.iter().map(|&q| q as usize));
                    if let Some(c) = condition {
                        w.extend(c.clbits.iter().map(|&b| clbit(b)));
                    }
                    info.diagonal = condition.is_none() && gate.is_diagonal();
                    if qubits.len() == 2 {
                        info.pair = Some((qubits[0], qubits[1]));
                        info.weight = two_qubit_weight(gate);
                    } else if qubits.len() == 1 {
                        info.single = qubits[0];
                    }
                }
                Operation::Measure { qubit, clbit: c } => {
                    w.extend([*qubit as usize, clbit(*c)]);
                    info.single = *qubit;
                }
                Operation::Reset { qubit } => {
                    w.push(*qubit as usize);
                    info.single = *qubit;
                }
                Operation::Barrier { qubits } => {
                    w.extend(qubits.iter().map(|&q| q as usize));
                }
                _ => {}
            }
            dag.push(i as u32, &w, info, &mut last, &mut edges);
        }
        dag.finish(&edges);
        dag
    }

    /// The graph of just the 2-qubit interactions, in order or reversed
    /// (for layout search); `costs` gives each pair's cost in native
    /// 2-qubit gates and whether it is diagonal (empty: 2, not diagonal).
    #[must_use]
    pub fn from_pairs(
        pairs: &[(u32, u32)],
        costs: &[(u8, bool)],
        num_qubits: usize,
        reversed: bool,
    ) -> Self {
        let mut dag = Self::with_capacity(pairs.len());
        let mut last = vec![None; num_qubits];
        let n = pairs.len();
        let mut edges = Vec::with_capacity(n * 2);
        for k in 0..n {
            let i = if reversed { n - 1 - k } else { k };
            let (a, b) = pairs[i];
            let (weight, diagonal) = costs.get(i).copied().unwrap_or((2, false));
            let info = NodeInfo { pair: Some((a, b)), weight, diagonal, single: u32::MAX };
            dag.push(k as u32, &[a as usize, b as usize], info, &mut last, &mut edges);
        }
        dag.finish(&edges);
        dag
    }

    fn with_capacity(n: usize) -> Self {
        Self {
            pair: Vec::with_capacity(n),
            weight: Vec::with_capacity(n),
            diagonal: Vec::with_capacity(n),
            single: Vec::with_capacity(n),
            succ_start: Vec::new(),
            succ: Vec::new(),
            indeg: Vec::with_capacity(n),
        }
    }

    /// Adds node `i` on `wires`, recording its edges `(predecessor, i)`
    /// in `edges` (one per predecessor).
    fn push(
        &mut self,
        i: u32,
        wires: &[usize],
        info: NodeInfo,
        last: &mut [Option<u32>],
        edges: &mut Vec<(u32, u32)>,
    ) {
        self.pair.push(info.pair);
        self.weight.push(info.weight);
        self.diagonal.push(info.diagonal);
        self.single.push(info.single);
        let mut indeg = 0;
        let first = edges.len();
        for &w in wires {
            if let Some(p) = last.get(w).copied().flatten()
                && !edges[first..].iter().any(|&(q, _)| q == p)
            {
                edges.push((p, i));
                indeg += 1;
            }
            if let Some(slot) = last.get_mut(w) {
                *slot = Some(i);
            }
        }
        self.indeg.push(indeg);
    }

    /// Lays out the successor lists from `edges` (in the order they were
    /// added, so each list is in node order).
    fn finish(&mut self, edges: &[(u32, u32)]) {
        let n = self.pair.len();
        let mut start = vec![0u32; n + 1];
        for &(p, _) in edges {
            start[p as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut succ = vec![0u32; edges.len()];
        for &(p, i) in edges {
            succ[fill[p as usize] as usize] = i;
            fill[p as usize] += 1;
        }
        self.succ_start = start;
        self.succ = succ;
    }

    /// The successors of `node`, in node order.
    fn successors(&self, node: u32) -> &[u32] {
        let node = node as usize;
        &self.succ[self.succ_start[node] as usize..self.succ_start[node + 1] as usize]
    }

    /// The number of nodes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pair.len()
    }

    /// True when there are no nodes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pair.is_empty()
    }
}

/// One step of a routed program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Run DAG node `i` (with the layout passed alongside).
    Node(u32),
    /// Swap physical qubits.
    Swap(u32, u32),
}

/// A small deterministic generator (splitmix64) for tie-breaks and random
/// layouts; seeded, so compilation is reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// What a routing pass cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed {
    /// Swaps inserted.
    pub swaps: u64,
    /// Their estimated cost in native 2-qubit gates: three for a swap,
    /// less when it merges with the gates just run on the same pair.
    pub cost: u64,
}

/// How much a swap that merges into the block on its pair is preferred:
/// `ABSORB_BONUS_TENTHS / 10` per native 2-qubit gate saved, in units of
/// the distance heuristic.
const ABSORB_BONUS_TENTHS: i64 = 7;

/// The working memory of [`route_with`]. A layout search routes the same
/// program some twenty times; passing one scratch to all of its passes
/// makes a pass allocate nothing once the vectors have grown. The contents
/// between calls mean nothing: every call starts from a clean state.
#[derive(Debug, Default)]
pub struct RouteScratch {
    indeg: Vec<u32>,
    front: Vec<u32>,
    ready: Vec<u32>,
    decay: Vec<u32>,
    blocks: Blocks,
    /// Per DAG node, the lookahead walk that last reached it (`stamp`).
    seen: Vec<u32>,
    stamp: u32,
    extended: Vec<(u32, u32)>,
    candidates: Vec<(u32, u32)>,
    /// Per physical pair `a * n + b`, the step that last listed it as a
    /// candidate (`cand_stamp`).
    cand_mark: Vec<u32>,
    cand_stamp: u32,
    best: Vec<(u32, u32)>,
    /// Physical pairs of the front layer, then of the lookahead set.
    all: Vec<(u32, u32)>,
    /// Per physical qubit, the other end and weight of each front or
    /// lookahead pair on it (empty between steps).
    incident: Vec<Vec<(u32, u32)>>,
    /// Per physical qubit, its pairs' weighted distances (zero between
    /// steps).
    own: Vec<i64>,
    queue: std::collections::VecDeque<u32>,
}

impl RouteScratch {
    /// Readies the scratch for routing `dag` on `n` physical qubits.
    fn reset(&mut self, dag: &Dag, n: usize) {
        self.indeg.clear();
        self.indeg.extend_from_slice(&dag.indeg);
        self.front.clear();
        self.ready.clear();
        self.ready.extend((0..dag.len() as u32).filter(|&i| dag.indeg[i as usize] == 0));
        self.decay.clear();
        self.decay.resize(n, 0);
        self.blocks.reset(n);
        // Stamps only grow, so marks left by earlier calls never match;
        // a wrap-around clears them.
        if self.seen.len() < dag.len() {
            self.seen.resize(dag.len(), 0);
        }
        if self.cand_mark.len() < n * n {
            self.cand_mark.resize(n * n, 0);
        }
        self.incident.resize_with(n, Vec::new);
        for v in &mut self.incident {
            v.clear();
        }
        self.own.clear();
        self.own.resize(n, 0);
    }
}

/// Routes `dag` from `layout` (updated in place to the final layout),
/// calling `emit` for every step. Returns `None` as soon as the swaps'
/// estimated cost exceeds `limit` (a trial that cannot win), otherwise the
/// swaps and their cost. Fails when a gate's qubits lie in disconnected
/// parts of the map.
pub fn route(
    dag: &Dag,
    coupling: &Coupling,
    layout: &mut Layout,
    rng: &mut Rng,
    limit: u64,
    emit: impl FnMut(Step, &Layout),
) -> Result<Option<Routed>, String> {
    route_with(&mut RouteScratch::default(), dag, coupling, layout, rng, limit, emit)
}

/// [`route`] with working memory reused from earlier calls (the result
/// does not depend on what `scratch` held).
#[allow(clippy::too_many_lines)]
pub fn route_with(
    scratch: &mut RouteScratch,
    dag: &Dag,
    coupling: &Coupling,
    layout: &mut Layout,
    rng: &mut Rng,
    limit: u64,
    mut emit: impl FnMut(Step, &Layout),
) -> Result<Option<Routed>, String> {
    let n = coupling.len();
    scratch.reset(dag, n);
    let RouteScratch {
        indeg,
        front,
        ready,
        decay,
        blocks,
        seen,
        stamp,
        extended,
        candidates,
        cand_mark,
        cand_stamp,
        best,
        all,
        incident,
        own,
        queue,
    } = scratch;
    let mut routed = Routed { swaps: 0, cost: 0 };
    let mut since_progress = 0usize;
    let mut since_reset = 0u32;
    let mut extended_valid = false;
    let do_swap = |s0: u32,
                   s1: u32,
                   layout: &mut Layout,
                   blocks: &mut Blocks,
                   routed: &mut Routed,
                   emit: &mut dyn FnMut(Step, &Layout)| {
        routed.cost += u64::from(blocks.add(s0, s1, 3, true, false));
        routed.swaps += 1;
        layout.swap(s0, s1);
        emit(Step::Swap(s0, s1), layout);
    };
    loop {
        // Run everything runnable: ready nodes without a pair run at once
        // (and may release more), 2-qubit nodes when adjacent.
        let mut progressed = false;
        loop {
            while let Some(node) = ready.pop() {
                if let Some((a, b)) = dag.pair[node as usize] {
                    let (pa, pb) = (layout.v2p[a as usize], layout.v2p[b as usize]);
                    if coupling.dist(pa, pb) != 1 {
                        front.push(node);
                        continue;
                    }
                    blocks.add(
                        pa,
                        pb,
                        dag.weight[node as usize],
                        false,
                        dag.diagonal[node as usize],
                    );
                } else if dag.single[node as usize] != u32::MAX && !dag.diagonal[node as usize] {
                    blocks.cut(layout.v2p[dag.single[node as usize] as usize]);
                }
                emit(Step::Node(node), layout);
                progressed = true;
                for &s in dag.successors(node) {
                    indeg[s as usize] -= 1;
                    if indeg[s as usize] == 0 {
                        ready.push(s);
                    }
                }
            }
            // A swap may have made front gates adjacent.
            let before = ready.len();
            front.retain(|&node| {
                let Some((a, b)) = dag.pair[node as usize] else { return true };
                let adjacent = coupling.dist(layout.v2p[a as usize], layout.v2p[b as usize]) == 1;
                if adjacent {
                    ready.push(node);
                }
                !adjacent
            });
            if ready.len() == before {
                break;
            }
        }
        if front.is_empty() {
            return Ok(Some(routed));
        }
        if routed.cost > limit {
            return Ok(None);
        }
        if progressed {
            decay.fill(0);
            since_progress = 0;
            since_reset = 0;
        }
        for &node in front.iter() {
            if let Some((a, b)) = dag.pair[node as usize]
                && !coupling.reachable(layout.v2p[a as usize], layout.v2p[b as usize])
            {
                return Err(format!(
                    "program qubits {a} and {b} are mapped to disconnected parts of the device"
                ));
            }
        }
        if since_progress > 10 * n.max(4) {
            // Release valve: walk the closest pair together along a shortest path.
            let Some((a, b)) =
                front.iter().filter_map(|&f| dag.pair[f as usize]).min_by_key(|&(a, b)| {
                    coupling.dist(layout.v2p[a as usize], layout.v2p[b as usize])
                })
            else {
                return Err("internal: routing stalled without a 2-qubit gate".into());
            };
            let target = layout.v2p[b as usize];
            while coupling.dist(layout.v2p[a as usize], target) > 1 {
                let pa = layout.v2p[a as usize];
                let Some(&step) = coupling
                    .neighbours(pa)
                    .iter()
                    .find(|&&nb| coupling.dist(nb, target) < coupling.dist(pa, target))
                else {
                    return Err("internal: no shortest-path step".into());
                };
                do_swap(pa, step, layout, blocks, &mut routed, &mut emit);
            }
            since_progress = 0;
            continue;
        }
        // Lookahead: the next 2-qubit gates after the front layer. It is a
        // function of the front layer alone (virtual qubits), so it is only
        // recomputed when a gate ran; swaps in between reuse it.
        if progressed || !extended_valid {
            extended_valid = true;
            *stamp = stamp.wrapping_add(1);
            if *stamp == 0 {
                seen.fill(0);
                *stamp = 1;
            }
            extended.clear();
            queue.clear();
            queue.extend(front.iter().copied());
            'bfs: while let Some(node) = queue.pop_front() {
                for &s in dag.successors(node) {
                    if seen[s as usize] == *stamp {
                        continue;
                    }
                    seen[s as usize] = *stamp;
                    if let Some(p) = dag.pair[s as usize] {
                        extended.push(p);
                        if extended.len() >= EXTENDED_SET {
                            break 'bfs;
                        }
                    }
                    queue.push_back(s);
                }
            }
        }
        // Physical pairs of the front layer, then of the lookahead set.
        all.clear();
        for &f in front.iter() {
            if let Some((a, b)) = dag.pair[f as usize] {
                all.push((layout.v2p[a as usize], layout.v2p[b as usize]));
            }
        }
        let nf = all.len();
        all.extend(extended.iter().map(|&(a, b)| (layout.v2p[a as usize], layout.v2p[b as usize])));
        let ne = all.len() - nf;
        // Qiskit's weighting: the front layer's total distance F, plus half
        // the lookahead set's mean E / ne, times the decay 1 + k / 1000;
        // then a bonus of 0.7 per gate for a swap that merges with the
        // block just run on its pair. Times 20 * ne * 1000 that is
        // (20 ne F + 10 E)(1000 + k) - 14000 ne * saving: integers (far
        // inside i64 even with unreachable lookahead pairs, which count
        // u32::MAX), so equal scores tie exactly; with ne = 0, E = 0 and ne
        // counts 1. So a front pair weighs 20 ne and a lookahead pair 10 in
        // the weighted distance sum `base`.
        let ne_s = ne.max(1) as i64;
        let weight_front = 20 * ne.max(1) as u32;
        let mut base = 0i64;
        // Per physical qubit, the pairs touching it and their weighted
        // distances: a candidate swap only changes the pairs it touches.
        for (i, &(a, b)) in all.iter().enumerate() {
            let w = if i < nf { weight_front } else { 10 };
            let wd = i64::from(w) * i64::from(coupling.dist(a, b));
            base += wd;
            incident[a as usize].push((b, w));
            incident[b as usize].push((a, w));
            own[a as usize] += wd;
            own[b as usize] += wd;
        }
        let max_bonus = 3 * 2 * ne_s * ABSORB_BONUS_TENTHS * DECAY_SCALE;
        // Candidates: every swap touching a front-layer qubit.
        candidates.clear();
        *cand_stamp = cand_stamp.wrapping_add(1);
        if *cand_stamp == 0 {
            cand_mark.fill(0);
            *cand_stamp = 1;
        }
        for &(a, b) in &all[..nf] {
            for p in [a, b] {
                for &nb in coupling.neighbours(p) {
                    let c = (p.min(nb), p.max(nb));
                    let slot = &mut cand_mark[c.0 as usize * n + c.1 as usize];
                    if *slot != *cand_stamp {
                        *slot = *cand_stamp;
                        candidates.push(c);
                    }
                }
            }
        }
        let mut best_score = i64::MAX;
        best.clear();
        for &(s0, s1) in candidates.iter() {
            // The weighted distance change of the pairs on each swapped
            // qubit `from` (moving to `to`): their distances from `to`,
            // minus those from `from` (`own`), except that a pair on both
            // swapped qubits keeps its distance, though it reads as 0 from
            // `to` (so it gets back its weight times d(from, to)).
            let mut delta = 0i64;
            for (from, to) in [(s0, s1), (s1, s0)] {
                let row_to = coupling.dist_row(to);
                let (mut moved, mut kept) = (0i64, 0i64);
                for &(other, w) in &incident[from as usize] {
                    moved += i64::from(w) * i64::from(row_to[other as usize]);
                    kept += i64::from(w) * i64::from(other == to);
                }
                delta += moved - own[from as usize] + kept * i64::from(coupling.dist(from, to));
            }
            let k = i64::from(decay[s0 as usize].max(decay[s1 as usize]));
            let mut h = (base + delta) * (DECAY_SCALE + k);
            // A swap that cannot reach the best score even with the
            // largest bonus (3 gates) is not scored further.
            if h - max_bonus > best_score {
                continue;
            }
            h -= 2
                * ne_s
                * ABSORB_BONUS_TENTHS
                * DECAY_SCALE
                * i64::from(blocks.swap_saving(s0, s1));
            if h < best_score {
                best_score = h;
                best.clear();
                best.push((s0, s1));
            } else if h == best_score {
                best.push((s0, s1));
            }
        }
        for &(a, b) in all.iter() {
            incident[a as usize].clear();
            incident[b as usize].clear();
            own[a as usize] = 0;
            own[b as usize] = 0;
        }
        let Some(&(s0, s1)) = best.get(rng.below(best.len().max(1))) else {
            return Err("internal: no swap candidate".into());
        };
        do_swap(s0, s1, layout, blocks, &mut routed, &mut emit);
        since_progress += 1;
        since_reset += 1;
        decay[s0 as usize] += 1;
        decay[s1 as usize] += 1;
        if since_reset >= DECAY_RESET {
            decay.fill(0);
            since_reset = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eigen_hal::{Circuit, Gate};

    #[test]
    fn routes_every_pair_onto_a_line() {
        let coupling = Coupling::new(5, &eigen_hal::topology::line(5));
        let mut c = Circuit::new(5, 0);
        for (a, b) in [(0, 4), (1, 3), (2, 0), (4, 1), (3, 2)] {
            c.gate(Gate::Cx, &[a, b]);
        }
        let dag = Dag::from_ops(&c.ops, 5);
        let mut layout = Layout::from_v2p((0..5).collect());
        let mut ran = Vec::new();
        let routed = route(&dag, &coupling, &mut layout, &mut Rng::new(1), u64::MAX, |step, l| {
            if let Step::Node(i) = step {
                let Operation::Gate { qubits, .. } = &c.ops[i as usize] else {
                    return;
                };
                assert_eq!(coupling.dist(l.v2p[qubits[0] as usize], l.v2p[qubits[1] as usize]), 1);
                ran.push(i);
            }
        })
        .expect("routes")
        .expect("no limit");
        // every gate ran once, and gates sharing a qubit kept their order
        let mut sorted = ran.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
        let pos = |i: u32| ran.iter().position(|&r| r == i);
        assert!(pos(0) < pos(2) && pos(0) < pos(3) && pos(1) < pos(3) && pos(2) < pos(4));
        assert!(routed.swaps > 0 && routed.cost <= 3 * routed.swaps);
    }

    #[test]
    fn a_reused_scratch_routes_like_a_fresh_one() {
        let coupling = Coupling::new(6, &eigen_hal::topology::grid(2, 3));
        let steps = |dag: &Dag, scratch: &mut RouteScratch| {
            let mut layout = Layout::from_v2p((0..6).collect());
            let mut out = Vec::new();
            let r = route_with(scratch, dag, &coupling, &mut layout, &mut Rng::new(3), u64::MAX, {
                |s, _: &Layout| out.push(s)
            })
            .expect("routes");
            (out, r, layout)
        };
        let long: Vec<(u32, u32)> = (0..40).map(|i| (i % 6, (i * 5 + 3) % 6)).collect();
        let long: Vec<(u32, u32)> = long.into_iter().filter(|(a, b)| a != b).collect();
        let short = [(0, 5), (2, 3), (5, 1), (4, 0)];
        let mut shared = RouteScratch::default();
        for pairs in [&long[..], &short[..], &long[..]] {
            let dag = Dag::from_pairs(pairs, &[], 6, false);
            assert_eq!(steps(&dag, &mut shared), steps(&dag, &mut RouteScratch::default()));
        }
    }

    #[test]
    fn distances_and_disconnection() {
        let c = Coupling::new(4, &[(0, 1), (2, 3)]);
        assert_eq!(c.dist(0, 1), 1);
        assert!(!c.reachable(0, 3));
        assert!(c.has_direction(0, 1) && !c.has_direction(1, 0));
        let mut l = Layout::from_v2p(vec![0, 2, 1, 3]);
        l.swap(0, 1);
        assert_eq!(l.v2p, vec![1, 2, 0, 3]);
        assert_eq!(l.p2v, vec![2, 0, 1, 3]);
    }
}
