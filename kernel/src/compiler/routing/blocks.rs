//! Open 2-qubit blocks during routing: which swaps merge with the gates
//! just run on their pair (and so cost less than three native gates).

/// Per physical qubit, the open 2-qubit block it is in (a run of gates on
/// one pair) and the block's weight; a swap joining an open block on its own
/// pair costs only what lifts the block to three.
#[derive(Debug, Default)]
pub(super) struct Blocks {
    id: Vec<u32>,
    weight: Vec<u8>,
    /// Whether the block's last 2-qubit operation was a swap (another swap
    /// would undo it, so it earns no bonus).
    swapped: Vec<bool>,
    /// Per qubit `a`, the diagonal 2-qubit gates since its last
    /// non-diagonal operation (its "tail"): a swap can absorb one of them on
    /// its pair (the gates between commute), see
    /// `optimize::gather_into_swaps`. Stored per ordered pair `a * n + b` as
    /// the weight of the last such gate on `(a, b)` and the tail it belongs
    /// to: it is in `a`'s current tail when that is `tail_of[a]` (clearing
    /// a tail gives the qubit a new one, so reads and clears take O(1)).
    tail_gate: Vec<(u32, u8)>,
    tail_of: Vec<u32>,
    /// The next unused tail number (0 is never one).
    next_tail: u32,
    n: usize,
    next: u32,
}

impl Blocks {
    /// Empties the blocks of `n` physical qubits (keeping the memory).
    pub(super) fn reset(&mut self, n: usize) {
        self.id.clear();
        self.id.resize(n, 0);
        self.weight.clear();
        self.weight.resize(n, 0);
        self.swapped.clear();
        self.swapped.resize(n, false);
        self.n = n;
        if self.tail_gate.len() < n * n {
            self.tail_gate.resize(n * n, (0, 0));
        }
        self.tail_of.clear();
        self.tail_of.resize(n, 0);
        for p in 0..n as u32 {
            self.clear_tail(p);
        }
        self.next = 1;
    }

    /// Gives `p` a new, empty tail.
    fn clear_tail(&mut self, p: u32) {
        if self.next_tail == u32::MAX || self.next_tail == 0 {
            // (first use, or wrapped) no stored gate may match a new tail
            self.tail_gate.fill((0, 0));
            self.tail_of.fill(0);
            self.next_tail = 1;
        }
        self.tail_of[p as usize] = self.next_tail;
        self.next_tail += 1;
    }

    /// The weight of the last gate on `(a, b)` in `a`'s tail.
    fn in_tail(&self, a: u32, b: u32) -> Option<u8> {
        let (tail, w) = self.tail_gate[a as usize * self.n + b as usize];
        (tail == self.tail_of[a as usize]).then_some(w)
    }

    /// The weight of the open block on exactly `(a, b)`, or `None`.
    pub(super) fn open_on(&self, a: u32, b: u32) -> Option<u8> {
        let (ia, ib) = (self.id[a as usize], self.id[b as usize]);
        (ia != 0 && ia == ib).then(|| self.weight[a as usize])
    }

    /// Records `w` on `(a, b)` (`swap`: a routing swap); returns its
    /// marginal cost.
    pub(super) fn add(&mut self, a: u32, b: u32, w: u8, swap: bool, diagonal: bool) -> u8 {
        self.swapped[a as usize] = swap;
        self.swapped[b as usize] = swap;
        if diagonal {
            let n = self.n;
            self.tail_gate[a as usize * n + b as usize] = (self.tail_of[a as usize], w);
            self.tail_gate[b as usize * n + a as usize] = (self.tail_of[b as usize], w);
        } else {
            self.clear_tail(a);
            self.clear_tail(b);
        }
        match self.open_on(a, b) {
            Some(old) => {
                let new = old.saturating_add(w);
                self.weight[a as usize] = new;
                self.weight[b as usize] = new;
                new.min(3) - old.min(3)
            }
            None => {
                self.id[a as usize] = self.next;
                self.id[b as usize] = self.next;
                self.next += 1;
                self.weight[a as usize] = w;
                self.weight[b as usize] = w;
                w.min(3)
            }
        }
    }

    /// The native 2-qubit gates a swap on `(a, b)` saves by merging with
    /// the gates just run on that pair (0 after a swap).
    pub(super) fn swap_saving(&self, a: u32, b: u32) -> u8 {
        let adjacent = match self.open_on(a, b) {
            Some(w) if !self.swapped[a as usize] => w.min(3),
            _ => 0,
        };
        // A gate on (a, b) is in both tails exactly when each tail holds
        // one with the other qubit (tails only shrink by clearing).
        let commuted = match (self.in_tail(a, b), self.in_tail(b, a)) {
            (Some(w), Some(_)) => w.min(3),
            _ => 0,
        };
        adjacent.max(commuted)
    }

    /// A non-diagonal 1-qubit operation on `p`.
    pub(super) fn cut(&mut self, p: u32) {
        self.clear_tail(p);
    }
}
