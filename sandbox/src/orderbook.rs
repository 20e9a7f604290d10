//! An in-memory order table with two orderings kept in step: by id (which is also creation order, since
//! ids only grow) and by `(updated_at, id)`. Listing "orders changed since T" is the connector's hot
//! path, so it must start at T in O(log n) instead of scanning 10,000 orders per page.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// What the book needs to know about an order.
pub trait Keyed {
    fn id(&self) -> u64;
    /// Seconds since the epoch of the last change.
    fn updated_ts(&self) -> i64;
}

/// The two orderings a listing can walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SortBy {
    /// By id, which equals creation order.
    Id,
    /// By `(updated_at, id)`.
    Updated,
}

/// A position in one ordering: `(updated_ts, id)` for [`SortBy::Updated`], `(0, id)` for [`SortBy::Id`].
pub type SortKey = (i64, u64);

/// Orders by id plus an `(updated_at, id)` index.
#[derive(Debug)]
pub struct OrderBook<O> {
    by_id: BTreeMap<u64, O>,
    by_updated: BTreeSet<SortKey>,
    /// Ids in creation order, for O(1) random picks by the generator.
    ids: Vec<u64>,
}

impl<O> Default for OrderBook<O> {
    fn default() -> Self {
        OrderBook {
            by_id: BTreeMap::new(),
            by_updated: BTreeSet::new(),
            ids: Vec::new(),
        }
    }
}

impl<O: Keyed> OrderBook<O> {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn insert(&mut self, order: O) {
        let id = order.id();
        self.by_updated.insert((order.updated_ts(), id));
        if let Some(old) = self.by_id.insert(id, order) {
            self.by_updated.remove(&(old.updated_ts(), id));
        } else {
            self.ids.push(id);
        }
    }

    pub fn get(&self, id: u64) -> Option<&O> {
        self.by_id.get(&id)
    }

    /// Applies `change` and re-indexes the order, so a changed `updated_at` moves it in the index.
    pub fn update<R>(&mut self, id: u64, change: impl FnOnce(&mut O) -> R) -> Option<R> {
        let order = self.by_id.get_mut(&id)?;
        let before = (order.updated_ts(), id);
        let result = change(order);
        let after = (order.updated_ts(), id);
        if before != after {
            self.by_updated.remove(&before);
            self.by_updated.insert(after);
        }
        Some(result)
    }

    /// The id created `n`-th (modulo the count), for picking a random earlier order.
    pub fn nth_created(&self, n: u64) -> Option<u64> {
        if self.ids.is_empty() {
            return None;
        }
        let idx = (n % self.ids.len() as u64) as usize;
        self.ids.get(idx).copied()
    }

    /// Iterates in creation order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &O> {
        self.by_id.values()
    }

    /// The key of `order` in `sort`.
    pub fn key_of(sort: SortBy, order: &O) -> SortKey {
        match sort {
            SortBy::Id => (0, order.id()),
            SortBy::Updated => (order.updated_ts(), order.id()),
        }
    }

    /// Walks `sort` ascending (or descending) strictly past `after`, never below `floor`.
    /// `floor` lets an `updated_at_min` filter start (or stop) the walk at the right place.
    pub fn scan<'a>(
        &'a self,
        sort: SortBy,
        descending: bool,
        after: Option<SortKey>,
        floor: Option<SortKey>,
    ) -> Box<dyn Iterator<Item = &'a O> + 'a> {
        let floor = if sort == SortBy::Updated { floor } else { None };
        let (lo, hi) = if descending {
            let hi = after.map_or(Bound::Unbounded, Bound::Excluded);
            let lo = floor.map_or(Bound::Unbounded, Bound::Included);
            (lo, hi)
        } else {
            let lo = match (after, floor) {
                (Some(a), Some(f)) if f > a => Bound::Included(f),
                (Some(a), _) => Bound::Excluded(a),
                (None, Some(f)) => Bound::Included(f),
                (None, None) => Bound::Unbounded,
            };
            (lo, Bound::Unbounded)
        };
        if range_is_empty(lo, hi) {
            return Box::new(std::iter::empty());
        }
        match sort {
            SortBy::Id => {
                let lo = map_bound(lo, |k| k.1);
                let hi = map_bound(hi, |k| k.1);
                if range_is_empty(lo, hi) {
                    return Box::new(std::iter::empty());
                }
                let range = self.by_id.range((lo, hi)).map(|(_, o)| o);
                if descending {
                    Box::new(range.rev())
                } else {
                    Box::new(range)
                }
            }
            SortBy::Updated => {
                let range = self
                    .by_updated
                    .range((lo, hi))
                    .filter_map(|(_, id)| self.by_id.get(id));
                if descending {
                    Box::new(range.rev())
                } else {
                    Box::new(range)
                }
            }
        }
    }
}

fn map_bound<T: Copy, U>(bound: Bound<T>, f: impl Fn(T) -> U) -> Bound<U> {
    match bound {
        Bound::Included(x) => Bound::Included(f(x)),
        Bound::Excluded(x) => Bound::Excluded(f(x)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// `BTreeMap::range` panics on an inverted range; a cursor past a floor is simply an empty page.
fn range_is_empty<T: Ord>(lo: Bound<T>, hi: Bound<T>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a >= b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct O(u64, i64);
    impl Keyed for O {
        fn id(&self) -> u64 {
            self.0
        }
        fn updated_ts(&self) -> i64 {
            self.1
        }
    }

    #[test]
    fn update_moves_order_in_index_and_scan_respects_bounds() {
        let mut book = OrderBook::default();
        for i in 1..=5 {
            book.insert(O(i, 100 + i as i64));
        }
        book.update(2, |o| o.1 = 200);
        let ids: Vec<u64> = book
            .scan(SortBy::Updated, false, None, None)
            .map(|o| o.0)
            .collect();
        assert_eq!(ids, vec![1, 3, 4, 5, 2]);
        let ids: Vec<u64> = book
            .scan(SortBy::Updated, false, Some((103, 3)), Some((104, 0)))
            .map(|o| o.0)
            .collect();
        assert_eq!(ids, vec![4, 5, 2]);
        let ids: Vec<u64> = book
            .scan(SortBy::Updated, true, Some((101, 1)), Some((104, 0)))
            .map(|o| o.0)
            .collect();
        assert!(ids.is_empty());
        let ids: Vec<u64> = book
            .scan(SortBy::Id, true, Some((0, 3)), None)
            .map(|o| o.0)
            .collect();
        assert_eq!(ids, vec![2, 1]);
    }
}
