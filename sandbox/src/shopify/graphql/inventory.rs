//! Stock through GraphQL: the named quantities of a level (`available`, `on_hand`, `committed`)
//! and the `inventorySetQuantities` / `inventoryAdjustQuantities` mutations. Both write the same
//! levels REST's `inventory_levels.json` reads, all or nothing: one user error and no level moves.

use serde::Deserialize;
use serde_json::Value;

use super::errors::GqlError;
use super::ids;
use super::payload::{Outcome, Payload, UserError};
use super::state::{AdjustmentGroup, InventoryChange};
use crate::shopify::store::ShopState;
use crate::timefmt;

/// The quantity names a mutation may write.
const WRITABLE: &[&str] = &["available", "on_hand"];

/// Shopify's inventory change reasons.
const REASONS: &[&str] = &[
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_canceled",
    "movement_created",
    "movement_received",
    "movement_updated",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
];

/// Units of open orders not yet shipped from `location`: what separates `on_hand` from
/// `available` (the simulator stores `available`, which checkout already lowered).
pub fn committed(state: &ShopState, item: u64, location: u64) -> i64 {
    state
        .orders
        .iter()
        .filter(|o| o.cancelled_at.is_none() && o.location_id == location)
        .flat_map(|o| o.line_items.iter())
        .filter(|l| l.inventory_item_id == item)
        .map(|l| i64::from(l.remaining()))
        .sum()
}

/// A named quantity of an item at a location; names the simulator does not track are 0.
pub fn quantity(state: &ShopState, name: &str, item: u64, location: u64) -> i64 {
    let available = state.inventory.get(&(item, location)).copied().unwrap_or(0);
    match name {
        "available" => available,
        "on_hand" => available + committed(state, item, location),
        "committed" => committed(state, item, location),
        _ => 0,
    }
}

/// What both mutations' inputs say about the change as a whole.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    name: String,
    reason: String,
    reference_document_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetInput {
    #[serde(flatten)]
    change: Change,
    #[serde(default)]
    ignore_compare_quantity: Option<bool>,
    quantities: Vec<SetLine>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetLine {
    inventory_item_id: String,
    location_id: String,
    quantity: i64,
    compare_quantity: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdjustInput {
    #[serde(flatten)]
    change: Change,
    changes: Vec<AdjustLine>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdjustLine {
    delta: i64,
    inventory_item_id: String,
    location_id: String,
}

fn input<T: serde::de::DeserializeOwned>(
    mutation: &str,
    value: Option<&Value>,
) -> Result<T, GqlError> {
    let value = value.cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| {
        GqlError::new(
            &format!("Argument 'input' on Field '{mutation}' has an invalid value: {e}"),
            "argumentLiteralsIncompatible",
        )
    })
}

/// The `(item, location)` of one line, or why it cannot be changed.
fn target(
    state: &ShopState,
    path: &[&str],
    item: &str,
    location: &str,
) -> Result<(u64, u64), UserError> {
    let field = |last: &str| {
        let mut f: Vec<&str> = path.to_vec();
        f.push(last);
        f.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
    };
    let error = |last: &str, message: &str, code| UserError {
        field: field(last),
        message: message.to_owned(),
        code: Some(code),
    };
    let item_id = ids::parse_of(item, "InventoryItem")
        .filter(|id| state.inventory.keys().any(|(i, _)| i == id))
        .ok_or_else(|| {
            error(
                "inventoryItemId",
                "The specified inventory item could not be found.",
                "INVALID_INVENTORY_ITEM",
            )
        })?;
    let location_id = ids::parse_of(location, "Location")
        .filter(|id| state.locations.iter().any(|l| l.id == *id))
        .ok_or_else(|| {
            error(
                "locationId",
                "The specified location could not be found.",
                "INVALID_LOCATION",
            )
        })?;
    if !state.inventory.contains_key(&(item_id, location_id)) {
        return Err(error(
            "locationId",
            "The specified inventory item is not stocked at the location.",
            "ITEM_NOT_STOCKED_AT_LOCATION",
        ));
    }
    Ok((item_id, location_id))
}

/// Checks what every request shares: a writable name and a known reason.
fn check_change(change: &Change, errors: &mut Vec<UserError>) {
    if !WRITABLE.contains(&change.name.as_str()) {
        errors.push(UserError::new(
            &["input", "name"],
            "The quantity name must be either 'available' or 'on_hand'.",
            Some("INVALID_NAME"),
        ));
    }
    if !REASONS.contains(&change.reason.as_str()) {
        errors.push(UserError::new(
            &["input", "reason"],
            "The specified reason is invalid.",
            Some("INVALID_REASON"),
        ));
    }
}

/// The payload of a request: its user errors and no change if there are any, else its
/// `(item, location, delta)` moves applied and recorded as an adjustment group. Both `available` and `on_hand` move by each
/// delta, since what is committed does not change.
fn conclude(
    state: &mut ShopState,
    (type_name, error_type): (&'static str, &'static str),
    change: Change,
    moves: Vec<(u64, u64, i64)>,
    errors: Vec<UserError>,
) -> Payload {
    let payload = |outcome, errors| Payload {
        type_name,
        error_type,
        outcome,
        errors,
    };
    if !errors.is_empty() {
        return payload(Outcome::Nothing, errors);
    }
    let mut changes = Vec::new();
    for (item, location, delta) in moves {
        *state.inventory.entry((item, location)).or_insert(0) += delta;
        let named_first = WRITABLE
            .iter()
            .filter(|w| **w == change.name)
            .chain(WRITABLE.iter().filter(|w| **w != change.name));
        for written in named_first {
            changes.push(InventoryChange {
                name: written,
                delta,
                quantity_after: quantity(state, written, item, location),
                item,
                location,
            });
        }
    }
    state.graphql.adjustment_seq += 1;
    let group = AdjustmentGroup {
        id: 90_000_000_000 + state.graphql.adjustment_seq,
        reason: change.reason,
        reference_document_uri: change.reference_document_uri,
        created_at: timefmt::now(),
        changes,
    };
    state.graphql.adjustment_groups.push(group.clone());
    payload(Outcome::Group(group), Vec::new())
}

/// `inventorySetQuantities(input:)`.
pub fn set_quantities(
    state: &mut ShopState,
    args: &serde_json::Map<String, Value>,
) -> Result<Payload, GqlError> {
    let input: SetInput = input("inventorySetQuantities", args.get("input"))?;
    let mut errors = Vec::new();
    check_change(&input.change, &mut errors);
    let ignore_compare = input.ignore_compare_quantity.unwrap_or(false);
    let mut moves = Vec::new();
    for (i, line) in input.quantities.iter().enumerate() {
        let index = i.to_string();
        let path = ["input", "quantities", index.as_str()];
        let (item, location) =
            match target(state, &path, &line.inventory_item_id, &line.location_id) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
        let current = quantity(state, &input.change.name, item, location);
        // A level named twice moves from where the earlier line left it.
        let planned = moves
            .iter()
            .filter(|(i, l, _)| (*i, *l) == (item, location))
            .map(|(_, _, d)| d)
            .sum::<i64>();
        if !ignore_compare {
            match line.compare_quantity {
                None => errors.push(UserError::new(
                    &["input", "quantities", &index, "compareQuantity"],
                    "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.",
                    Some("COMPARE_QUANTITY_REQUIRED"),
                )),
                Some(expected) if expected != current => errors.push(UserError::new(
                    &["input", "quantities", &index, "compareQuantity"],
                    "The compareQuantity value does not match the current quantity.",
                    Some("COMPARE_QUANTITY_STALE"),
                )),
                Some(_) => {}
            }
        }
        moves.push((item, location, line.quantity - current - planned));
    }
    Ok(conclude(
        state,
        (
            "InventorySetQuantitiesPayload",
            "InventorySetQuantitiesUserError",
        ),
        input.change,
        moves,
        errors,
    ))
}

/// `inventoryAdjustQuantities(input:)`.
pub fn adjust_quantities(
    state: &mut ShopState,
    args: &serde_json::Map<String, Value>,
) -> Result<Payload, GqlError> {
    let input: AdjustInput = input("inventoryAdjustQuantities", args.get("input"))?;
    let mut errors = Vec::new();
    check_change(&input.change, &mut errors);
    let mut moves = Vec::new();
    for (i, line) in input.changes.iter().enumerate() {
        let index = i.to_string();
        let path = ["input", "changes", index.as_str()];
        match target(state, &path, &line.inventory_item_id, &line.location_id) {
            Ok((item, location)) => moves.push((item, location, line.delta)),
            Err(e) => errors.push(e),
        }
    }
    Ok(conclude(
        state,
        (
            "InventoryAdjustQuantitiesPayload",
            "InventoryAdjustQuantitiesUserError",
        ),
        input.change,
        moves,
        errors,
    ))
}
