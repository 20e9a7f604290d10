//! Stock arithmetic (DESIGN.md "Domain model"): the quantity a channel may sell of a product or
//! a kit, and the movements an order line makes. Pure, so the ledger, the API and sync-stock all
//! count the same way.
//!
//! Quantities are `i64` here whatever the columns hold, and every step saturates, so no input can
//! overflow into a wrong (and possibly large, oversold) figure.

use std::collections::BTreeMap;

use super::FieldError;

/// What an order line's SKU maps to in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductKind {
    /// A product, by id.
    Simple(i64),
    /// A kit, as its components: `(component product id, quantity in one kit)`.
    Kit(Vec<(i64, i64)>),
}

/// The available quantity of a product: its API and plugin quantities together, less the
/// channel's buffer, never below zero.
///
/// A negative sum (a product oversold before its stock was corrected) is 0, not a debt the
/// buffer adds to; a negative buffer counts as none, since it would offer more than there is.
pub fn available_product(api: i64, plugin: i64, buffer: i64) -> i64 {
    api.saturating_add(plugin)
        .saturating_sub(buffer.max(0))
        .max(0)
}

/// The available quantity of a kit from its components `(api, plugin, quantity in kit)`: as
/// many whole kits as the scarcest component allows (`floor(max(0, api + plugin) / quantity)`,
/// the minimum over components), less the buffer, never below zero.
///
/// A kit without components, or with a component whose quantity is below one (which the schema
/// refuses), is 0: a kit that cannot be computed is not offered rather than offered unbounded.
pub fn available_kit(components: &[(i64, i64, i64)], buffer: i64) -> i64 {
    let mut kits: Option<i64> = None;
    for &(api, plugin, per_kit) in components {
        if per_kit < 1 {
            return 0;
        }
        let have = api.saturating_add(plugin).max(0);
        let whole = have / per_kit;
        kits = Some(kits.map_or(whole, |k| k.min(whole)));
    }
    match kits {
        Some(k) => k.saturating_sub(buffer.max(0)).max(0),
        None => 0,
    }
}

/// The API-quantity movements an order line of `line_quantity` units makes, one per product:
/// the product itself, or each component of a kit times its quantity in the kit (a line of 3
/// kits of 2 x A + 1 x B takes 6 A and 3 B). Negative deltas, ordered by product id (the order
/// rows are locked in); a component listed twice is summed; a line of no units moves nothing.
pub fn line_movements(line_quantity: i64, product: &ProductKind) -> Vec<(i64, i64)> {
    if line_quantity <= 0 {
        return Vec::new();
    }
    let mut by_product: BTreeMap<i64, i64> = BTreeMap::new();
    match product {
        ProductKind::Simple(id) => {
            by_product.insert(*id, line_quantity);
        }
        ProductKind::Kit(components) => {
            for &(id, per_kit) in components {
                if per_kit > 0 {
                    let units = line_quantity.saturating_mul(per_kit);
                    let entry = by_product.entry(id).or_insert(0);
                    *entry = entry.saturating_add(units);
                }
            }
        }
    }
    by_product
        .into_iter()
        .map(|(id, units)| (id, units.saturating_neg()))
        .collect()
}

/// The delta that takes a quantity from `current` to `target` (an absolute set, recorded in the
/// ledger as the change it made).
pub fn delta_to(current: i64, target: i64) -> i64 {
    target.saturating_sub(current)
}

/// `current + delta` when it stays within the quantity columns' range (PostgreSQL `integer`),
/// `None` when it would leave it.
pub fn checked_quantity(current: i64, delta: i64) -> Option<i32> {
    current
        .checked_add(delta)
        .and_then(|q| i32::try_from(q).ok())
}

/// Largest absolute quantity or single adjustment a caller may ask for: far beyond any stock,
/// far enough inside the ledger's integer range that sums of a few cannot leave it.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// Whether `quantity` may be set as a product's stock figure: 0 to [`MAX_QUANTITY`].
pub fn is_settable(quantity: i64) -> bool {
    (0..=MAX_QUANTITY).contains(&quantity)
}

/// Whether `delta` may adjust a stock figure: not zero (that records nothing) and at most
/// [`MAX_QUANTITY`] either way. A range, not `abs()`: `i64::MIN` has no absolute value.
pub fn is_adjustment(delta: i64) -> bool {
    delta != 0 && (-MAX_QUANTITY..=MAX_QUANTITY).contains(&delta)
}

/// Most components one kit may have: more than any real bundle, few enough to compute per push.
pub const MAX_KIT_COMPONENTS: usize = 100;
/// Most units of one component in one kit.
pub const MAX_PER_KIT: i64 = 10_000;

/// What the catalogue says about a product proposed as a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentFacts {
    pub store_id: i64,
    pub is_kit: bool,
}

/// A component as asked for, with what the catalogue knows of it (`None`: no such product in
/// the account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProposedComponent {
    pub product_id: i64,
    pub quantity: i64,
    pub facts: Option<ComponentFacts>,
}

/// Checks a kit's new component list: each component a product of the kit's own store, not a
/// kit, not the kit itself, listed once, with a quantity of at least one; and the kit not itself
/// a component of another kit (kits do not nest, so kit arithmetic is one level deep). Errors name
/// the entry (`[1].product_id`). An empty list is valid: it turns the kit back into a product.
pub fn check_components(
    kit_id: i64,
    kit_store_id: i64,
    kit_is_a_component: bool,
    components: &[ProposedComponent],
) -> Result<(), FieldError> {
    if components.is_empty() {
        return Ok(());
    }
    if kit_is_a_component {
        return Err(FieldError::new(
            ".",
            format!(
                "product {kit_id} is a component of a kit, and a kit's component cannot be a kit"
            ),
        ));
    }
    if components.len() > MAX_KIT_COMPONENTS {
        return Err(FieldError::new(
            ".",
            format!("a kit has at most {MAX_KIT_COMPONENTS} components"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, c) in components.iter().enumerate() {
        let id_error = |reason: String| FieldError::new(format!("[{i}].product_id"), reason);
        if !(1..=MAX_PER_KIT).contains(&c.quantity) {
            return Err(FieldError::new(
                format!("[{i}].quantity"),
                format!("must be between 1 and {MAX_PER_KIT}"),
            ));
        }
        if c.product_id == kit_id {
            return Err(id_error("a kit cannot contain itself".into()));
        }
        if !seen.insert(c.product_id) {
            return Err(id_error(format!(
                "product {} is listed twice; give its total quantity once",
                c.product_id
            )));
        }
        match c.facts {
            None => {
                return Err(id_error(format!(
                    "product {} does not exist in this account",
                    c.product_id
                )))
            }
            Some(f) if f.store_id != kit_store_id => {
                return Err(id_error(format!(
                    "product {} belongs to another store than the kit",
                    c.product_id
                )))
            }
            Some(f) if f.is_kit => {
                return Err(id_error(format!(
                    "product {} is a kit, and a kit's component cannot be a kit",
                    c.product_id
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_offers_api_plus_plugin_less_the_buffer() {
        assert_eq!(available_product(5, 3, 0), 8);
        assert_eq!(available_product(5, 3, 2), 6);
        assert_eq!(available_product(0, 4, 0), 4, "plugin stock alone counts");
        assert_eq!(available_product(4, 0, 0), 4, "API stock alone counts");
        assert_eq!(available_product(0, 0, 0), 0);
    }

    #[test]
    fn a_product_never_offers_less_than_zero() {
        assert_eq!(available_product(2, 1, 5), 0, "buffer larger than stock");
        assert_eq!(available_product(-7, 3, 0), 0, "oversold");
        assert_eq!(available_product(-7, -3, 2), 0);
        assert_eq!(
            available_product(10, -4, 0),
            6,
            "a negative part still subtracts"
        );
    }

    #[test]
    fn a_negative_buffer_offers_no_more_than_there_is() {
        assert_eq!(available_product(5, 0, -3), 5);
        assert_eq!(available_kit(&[(4, 0, 2)], -3), 2);
    }

    #[test]
    fn extreme_quantities_saturate_rather_than_wrap() {
        assert_eq!(available_product(i64::MAX, i64::MAX, 0), i64::MAX);
        assert_eq!(available_product(i64::MIN, i64::MIN, i64::MAX), 0);
        assert_eq!(available_kit(&[(i64::MAX, i64::MAX, 1)], 0), i64::MAX);
    }

    #[test]
    fn a_kit_offers_what_its_scarcest_component_allows() {
        // 2 x A + 1 x B: 7 A make 3 kits, 5 B make 5, so 3.
        assert_eq!(available_kit(&[(7, 0, 2), (5, 0, 1)], 0), 3);
        // Plugin and API quantities of a component add up before dividing.
        assert_eq!(available_kit(&[(3, 4, 2), (5, 0, 1)], 0), 3);
        // B becomes the scarce one.
        assert_eq!(available_kit(&[(7, 0, 2), (1, 1, 1)], 0), 2);
        // Remainders are dropped: 5 units of a 3-per-kit component make one kit.
        assert_eq!(available_kit(&[(5, 0, 3)], 0), 1);
        assert_eq!(available_kit(&[(2, 0, 3)], 0), 0);
    }

    #[test]
    fn a_kits_buffer_applies_to_whole_kits() {
        assert_eq!(available_kit(&[(7, 0, 2), (5, 0, 1)], 1), 2);
        assert_eq!(available_kit(&[(7, 0, 2), (5, 0, 1)], 3), 0);
        assert_eq!(available_kit(&[(7, 0, 2), (5, 0, 1)], 10), 0);
    }

    #[test]
    fn an_oversold_component_makes_the_kit_unavailable() {
        assert_eq!(available_kit(&[(-4, 0, 1), (9, 0, 1)], 0), 0);
        // A negative component does not turn into negative kits under a buffer either.
        assert_eq!(available_kit(&[(-4, 1, 2)], 2), 0);
    }

    #[test]
    fn a_kit_that_cannot_be_computed_offers_nothing() {
        assert_eq!(available_kit(&[], 0), 0, "empty kit");
        assert_eq!(available_kit(&[(10, 0, 0)], 0), 0, "zero per kit");
        assert_eq!(available_kit(&[(10, 0, 1), (10, 0, -1)], 0), 0);
    }

    #[test]
    fn a_simple_line_takes_its_quantity() {
        assert_eq!(line_movements(3, &ProductKind::Simple(7)), vec![(7, -3)]);
        assert_eq!(line_movements(0, &ProductKind::Simple(7)), vec![]);
        assert_eq!(line_movements(-2, &ProductKind::Simple(7)), vec![]);
    }

    #[test]
    fn a_kit_line_takes_each_component_times_its_quantity() {
        let kit = ProductKind::Kit(vec![(20, 2), (10, 1)]);
        assert_eq!(line_movements(3, &kit), vec![(10, -3), (20, -6)]);
        assert_eq!(line_movements(1, &kit), vec![(10, -1), (20, -2)]);
        assert_eq!(line_movements(0, &kit), vec![]);
    }

    #[test]
    fn a_kit_line_sums_a_repeated_component_and_skips_empty_ones() {
        let kit = ProductKind::Kit(vec![(5, 1), (5, 2), (6, 0)]);
        assert_eq!(line_movements(2, &kit), vec![(5, -6)]);
        assert_eq!(line_movements(2, &ProductKind::Kit(vec![])), vec![]);
    }

    #[test]
    fn a_line_takes_back_what_a_set_of_movements_sums_to() {
        // Kit lines move the same stock as the equivalent simple lines.
        let kit = line_movements(4, &ProductKind::Kit(vec![(1, 2), (2, 3)]));
        let simple: Vec<(i64, i64)> = [
            line_movements(8, &ProductKind::Simple(1)),
            line_movements(12, &ProductKind::Simple(2)),
        ]
        .concat();
        assert_eq!(kit, simple);
    }

    #[test]
    fn deltas_and_ranges() {
        assert_eq!(delta_to(5, 2), -3);
        assert_eq!(delta_to(-5, 2), 7);
        assert_eq!(delta_to(3, 3), 0);
        assert_eq!(checked_quantity(5, -8), Some(-3));
        assert_eq!(checked_quantity(i64::from(i32::MAX), 1), None);
        assert_eq!(checked_quantity(i64::from(i32::MIN), -1), None);
        assert_eq!(checked_quantity(i64::MAX, 1), None);
    }

    #[test]
    fn callers_set_and_adjust_within_the_bound() {
        assert!(is_settable(0) && is_settable(MAX_QUANTITY));
        assert!(!is_settable(-1) && !is_settable(MAX_QUANTITY + 1));
        assert!(is_adjustment(-MAX_QUANTITY) && is_adjustment(MAX_QUANTITY) && is_adjustment(1));
        assert!(!is_adjustment(0));
        assert!(!is_adjustment(MAX_QUANTITY + 1) && !is_adjustment(i64::MIN));
    }
    fn part(product_id: i64, quantity: i64, store_id: i64, is_kit: bool) -> ProposedComponent {
        ProposedComponent {
            product_id,
            quantity,
            facts: Some(ComponentFacts { store_id, is_kit }),
        }
    }

    fn field_of(result: Result<(), FieldError>) -> Option<String> {
        result.err().map(|e| e.field)
    }

    #[test]
    fn a_valid_kit_passes_and_an_empty_one_unkits() {
        assert_eq!(
            check_components(1, 9, false, &[part(2, 2, 9, false), part(3, 1, 9, false)]),
            Ok(())
        );
        assert_eq!(check_components(1, 9, true, &[]), Ok(()));
    }

    #[test]
    fn component_rules_name_the_entry() {
        let ok = part(2, 1, 9, false);
        let cases = [
            (part(3, 0, 9, false), "[1].quantity"),
            (part(3, MAX_PER_KIT + 1, 9, false), "[1].quantity"),
            (part(1, 1, 9, false), "[1].product_id"),
            (part(2, 1, 9, false), "[1].product_id"),
            (part(3, 1, 8, false), "[1].product_id"),
            (part(3, 1, 9, true), "[1].product_id"),
            (
                ProposedComponent {
                    product_id: 3,
                    quantity: 1,
                    facts: None,
                },
                "[1].product_id",
            ),
        ];
        for (bad, field) in cases {
            assert_eq!(
                field_of(check_components(1, 9, false, &[ok, bad])).as_deref(),
                Some(field),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn kits_do_not_nest_and_stay_bounded() {
        assert_eq!(
            field_of(check_components(1, 9, true, &[part(2, 1, 9, false)])).as_deref(),
            Some(".")
        );
        let many: Vec<_> = (0..=MAX_KIT_COMPONENTS as i64)
            .map(|i| part(100 + i, 1, 9, false))
            .collect();
        assert_eq!(
            field_of(check_components(1, 9, false, &many)).as_deref(),
            Some(".")
        );
    }
}
