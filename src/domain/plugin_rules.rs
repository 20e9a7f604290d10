//! Plugin rules: which orders a store hands to a fulfilment-centre plugin, and which it holds,
//! excludes or tags on the way in.
//!
//! A store's rules are an ordered list. Each has a condition on the order and one action. They
//! are evaluated in order against a newly imported order: the first matching rule that routes
//! the order to a plugin decides where it goes (a later routing match is ignored, so a specific
//! rule placed above a catch-all wins), while status and tag actions of every matching rule
//! accumulate. An inactive rule does nothing. Everything here is a pure function of the order
//! and the rules; the import reads the rules and writes the outcome.

use std::collections::HashSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event_type;
use super::FieldError;
use crate::domain::{ChannelOrder, SyncStatus};

/// Most entries a list condition (SKUs, countries, channels) takes.
pub const MAX_LIST: usize = 500;
/// Longest tag a rule adds.
pub const MAX_TAG: usize = 100;

/// How a number is compared with a rule's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = PluginRuleComparison)]
pub enum Comparison {
    GreaterThan,
    LessThan,
    Equal,
}

impl Comparison {
    fn holds<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            Comparison::GreaterThan => left > right,
            Comparison::LessThan => left < right,
            Comparison::Equal => left == right,
        }
    }
}

/// What a rule asks of an order, by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = PluginRuleCondition, example = json!({"type": "sku_in", "skus": ["TENT-2P", "TENT-KIT"]}))]
pub enum Condition {
    /// At least one line's SKU is a product (or kit) of the store's catalogue.
    SkuExists {},
    /// At least one line's SKU is in the list.
    SkuIn {
        /// 1 to 500 SKUs, trimmed.
        #[schema(min_items = 1, max_items = 500)]
        skus: Vec<String>,
    },
    /// The sum of the lines' quantities compared with `value`.
    ItemQuantity { comparison: Comparison, value: u32 },
    /// The order ships to one of these countries (ISO 3166 alpha-2; billing country when it
    /// has no shipping address).
    ShippingCountryIn {
        /// 1 to 500 two-letter codes, kept upper case.
        #[schema(min_items = 1, max_items = 500)]
        countries: Vec<String>,
    },
    /// The order came from one of these channels.
    ChannelIn {
        /// 1 to 500 channels of the rule's store.
        #[schema(min_items = 1, max_items = 500)]
        channel_ids: Vec<i64>,
    },
    /// The order total (in the order's currency, whatever it is) compared with `value`, a
    /// decimal string. `equal` is not offered: a total is rarely exactly a figure.
    OrderTotal {
        /// `greater_than` or `less_than`.
        comparison: Comparison,
        /// A non-negative decimal string, such as `"100.00"`.
        value: String,
    },
}

/// The sync status a rule may give an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = PluginRuleStatus)]
pub enum RuleStatus {
    Excluded,
    OnHold,
}

/// What a rule does to a matching order, by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = PluginRuleAction, example = json!({"type": "send_to_plugin", "plugin_id": 1}))]
pub enum Action {
    /// Hand the order to this plugin (of the same store).
    SendToPlugin { plugin_id: i64 },
    /// Give the order this sync status.
    SetSyncStatus { status: RuleStatus },
    /// Add this tag to the order.
    AddTag {
        /// 1 to 100 characters without a comma, trimmed.
        #[schema(min_length = 1, max_length = 100)]
        tag: String,
    },
}

impl Action {
    /// The plugin a routing action names.
    pub fn plugin_id(&self) -> Option<i64> {
        match self {
            Action::SendToPlugin { plugin_id } => Some(*plugin_id),
            _ => None,
        }
    }
}

/// One rule as the evaluation needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: i64,
    pub condition: Condition,
    pub action: Action,
    /// Off: the rule is skipped. (Also off when its plugin is disabled: a rule whose action
    /// cannot be carried out must not keep a later rule from routing the order.)
    pub active: bool,
}

/// What the order is evaluated against besides its own data.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub order: &'a ChannelOrder,
    pub channel_id: i64,
    /// Of the order's SKUs, those the store's catalogue has.
    pub known_skus: &'a HashSet<String>,
}

/// The result of evaluating a store's rules on one order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The plugin of the first matching routing rule.
    pub plugin_id: Option<i64>,
    /// The strongest status any matching rule set: `excluded` over `on_hold`, because an order
    /// one rule says must not be fulfilled must not be released by another's hold ending.
    pub status: Option<RuleStatus>,
    /// The rule whose status the order takes.
    pub status_rule: Option<i64>,
    /// Tags of every matching tag rule, in rule order, without repeats.
    pub tags: Vec<String>,
    /// Ids of the rules that matched and acted, in order.
    pub matched: Vec<i64>,
}

impl Outcome {
    /// True when no rule acted.
    pub fn is_empty(&self) -> bool {
        self.matched.is_empty()
    }
}

/// True when `condition` holds for the order.
pub fn matches(condition: &Condition, facts: &Facts<'_>) -> bool {
    let order = facts.order;
    let mut skus = order
        .lines
        .iter()
        .filter_map(|l| l.sku.as_deref().map(str::trim));
    match condition {
        Condition::SkuExists {} => skus.any(|s| facts.known_skus.contains(s)),
        Condition::SkuIn { skus: listed } => skus.any(|s| listed.iter().any(|l| l == s)),
        Condition::ItemQuantity { comparison, value } => {
            let total: u64 = order.lines.iter().map(|l| u64::from(l.quantity)).sum();
            comparison.holds(total, u64::from(*value))
        }
        Condition::ShippingCountryIn { countries } => {
            order.destination().is_some_and(|c| countries.contains(&c))
        }
        Condition::ChannelIn { channel_ids } => channel_ids.contains(&facts.channel_id),
        Condition::OrderTotal { comparison, value } => {
            // A total the channel sent that does not read as a number matches nothing: the rule
            // cannot tell, and guessing would route money by accident.
            match (
                order.totals.total.trim().parse::<Decimal>(),
                value.parse::<Decimal>(),
            ) {
                (Ok(total), Ok(value)) => comparison.holds(total, value),
                _ => false,
            }
        }
    }
}

/// Evaluates `rules` (already in their order) on one order.
pub fn evaluate(rules: &[Rule], facts: &Facts<'_>) -> Outcome {
    let mut out = Outcome::default();
    for rule in rules.iter().filter(|r| r.active) {
        if !matches(&rule.condition, facts) {
            continue;
        }
        match &rule.action {
            Action::SendToPlugin { plugin_id } => {
                if out.plugin_id.is_some() {
                    // The first routing match won; this rule neither routes nor counts.
                    continue;
                }
                out.plugin_id = Some(*plugin_id);
            }
            Action::SetSyncStatus { status } => {
                if out.status != Some(RuleStatus::Excluded) && out.status != Some(*status) {
                    out.status = Some(*status);
                    out.status_rule = Some(rule.id);
                }
            }
            Action::AddTag { tag } => {
                if !out.tags.contains(tag) && !facts.order.tags.contains(tag) {
                    out.tags.push(tag.clone());
                }
            }
        }
        out.matched.push(rule.id);
    }
    out
}

impl RuleStatus {
    pub fn sync_status(self) -> SyncStatus {
        match self {
            RuleStatus::Excluded => SyncStatus::Excluded,
            RuleStatus::OnHold => SyncStatus::OnHold,
        }
    }

    /// What the event that announces an order given this status says happened to it.
    pub fn event(self) -> event_type::Action {
        match self {
            RuleStatus::Excluded => event_type::Action::Excluded,
            RuleStatus::OnHold => event_type::Action::OnHold,
        }
    }
}

/// `tags` with `extra` appended, without repeats.
pub fn merged_tags(tags: &[String], extra: &[String]) -> Vec<String> {
    let mut out = tags.to_vec();
    for t in extra {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

/// A list condition's entries, trimmed, non-empty, at most [`MAX_LIST`].
fn check_list(field: &str, items: &mut [String], upper: bool) -> Result<(), FieldError> {
    if items.is_empty() || items.len() > MAX_LIST {
        return Err(FieldError::new(
            field,
            format!("must list 1 to {MAX_LIST} entries"),
        ));
    }
    for (i, item) in items.iter_mut().enumerate() {
        let trimmed = item.trim();
        if trimmed.is_empty() || trimmed.chars().any(char::is_control) {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                "must be non-empty text without control characters",
            ));
        }
        *item = if upper {
            trimmed.to_ascii_uppercase()
        } else {
            trimmed.to_owned()
        };
    }
    Ok(())
}

/// Reads and checks a condition (`field` paths are relative to `condition`).
pub fn parse_condition(value: &Value) -> Result<Condition, FieldError> {
    let mut condition: Condition =
        serde_path_to_error::deserialize(value).map_err(FieldError::from_serde)?;
    match &mut condition {
        Condition::SkuExists {} => {}
        Condition::SkuIn { skus } => check_list("skus", skus, false)?,
        Condition::ShippingCountryIn { countries } => {
            check_list("countries", countries, true)?;
            if let Some((i, _)) = countries
                .iter()
                .enumerate()
                .find(|(_, c)| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()))
            {
                return Err(FieldError::new(
                    format!("countries[{i}]"),
                    "must be a two-letter ISO 3166 country code",
                ));
            }
        }
        Condition::ChannelIn { channel_ids } => {
            if channel_ids.is_empty() || channel_ids.len() > MAX_LIST {
                return Err(FieldError::new(
                    "channel_ids",
                    format!("must list 1 to {MAX_LIST} channel ids"),
                ));
            }
        }
        Condition::ItemQuantity { .. } => {}
        Condition::OrderTotal { comparison, value } => {
            if *comparison == Comparison::Equal {
                return Err(FieldError::new(
                    "comparison",
                    "an order total compares with `greater_than` or `less_than`",
                ));
            }
            let parsed: Decimal = value.trim().parse().map_err(|_| {
                FieldError::new("value", "must be a decimal string such as \"100.00\"")
            })?;
            if parsed.is_sign_negative() {
                return Err(FieldError::new("value", "must not be negative"));
            }
            *value = parsed.to_string();
        }
    }
    Ok(condition)
}

/// Reads and checks an action. Whether a routing action's plugin is the store's is for the
/// caller to check against the database.
pub fn parse_action(value: &Value) -> Result<Action, FieldError> {
    let mut action: Action =
        serde_path_to_error::deserialize(value).map_err(FieldError::from_serde)?;
    if let Action::AddTag { tag } = &mut action {
        let trimmed = tag.trim();
        if trimmed.is_empty() || trimmed.chars().count() > MAX_TAG || trimmed.contains(',') {
            return Err(FieldError::new(
                "tag",
                format!("must be 1 to {MAX_TAG} characters without a comma"),
            ));
        }
        *tag = trimmed.to_owned();
    }
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::test_orders::{self, line};
    use crate::domain::{Address, OrderLine, Totals};
    use serde_json::json;

    fn order(country: &str, total: &str, lines: Vec<OrderLine>) -> ChannelOrder {
        ChannelOrder {
            totals: Totals {
                total: total.into(),
                ..Totals::default()
            },
            shipping_address: Some(Address {
                country_code: country.into(),
                ..Address::default()
            }),
            tags: vec!["vip".into()],
            ..test_orders::order(lines)
        }
    }

    fn sample() -> ChannelOrder {
        order(
            "GB",
            "49.00",
            vec![line("1", Some("A"), 2), line("2", Some("B"), 1)],
        )
    }

    fn rule(id: i64, condition: Condition, action: Action) -> Rule {
        Rule {
            id,
            condition,
            action,
            active: true,
        }
    }

    fn route(plugin_id: i64) -> Action {
        Action::SendToPlugin { plugin_id }
    }

    fn check(condition: &Condition, o: &ChannelOrder) -> bool {
        let known: HashSet<String> = ["B".to_owned()].into();
        matches(
            condition,
            &Facts {
                order: o,
                channel_id: 7,
                known_skus: &known,
            },
        )
    }

    fn run(rules: &[Rule], o: &ChannelOrder) -> Outcome {
        let known = HashSet::new();
        evaluate(
            rules,
            &Facts {
                order: o,
                channel_id: 7,
                known_skus: &known,
            },
        )
    }

    #[test]
    fn sku_exists_asks_the_catalogue() {
        assert!(check(&Condition::SkuExists {}, &sample()));
        let unknown = order(
            "GB",
            "1.00",
            vec![line("1", Some("Z"), 1), line("2", None, 1)],
        );
        assert!(!check(&Condition::SkuExists {}, &unknown));
    }

    #[test]
    fn sku_in_matches_any_line() {
        let c = |skus: &[&str]| Condition::SkuIn {
            skus: skus.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert!(check(&c(&["B", "Q"]), &sample()));
        assert!(!check(&c(&["Q"]), &sample()));
        assert!(!check(&c(&["a"]), &sample()), "SKUs are case-sensitive");
    }

    #[test]
    fn item_quantity_sums_the_lines() {
        let c = |comparison, value| Condition::ItemQuantity { comparison, value };
        assert!(check(&c(Comparison::Equal, 3), &sample()));
        assert!(!check(&c(Comparison::Equal, 2), &sample()));
        assert!(check(&c(Comparison::GreaterThan, 2), &sample()));
        assert!(!check(&c(Comparison::GreaterThan, 3), &sample()));
        assert!(check(&c(Comparison::LessThan, 4), &sample()));
        assert!(!check(&c(Comparison::LessThan, 3), &sample()));
    }

    #[test]
    fn shipping_country_uses_shipping_then_billing() {
        let c = Condition::ShippingCountryIn {
            countries: vec!["GB".into(), "IE".into()],
        };
        assert!(check(&c, &sample()));
        assert!(check(&c, &order(" gb ", "1", vec![])));
        assert!(!check(&c, &order("FR", "1", vec![])));
        let mut billing_only = order("FR", "1", vec![]);
        billing_only.billing_address = billing_only.shipping_address.take().map(|mut a| {
            a.country_code = "IE".into();
            a
        });
        assert!(check(&c, &billing_only));
        billing_only.billing_address = None;
        assert!(!check(&c, &billing_only), "no address matches no country");
    }

    #[test]
    fn channel_in_looks_at_the_source_channel() {
        assert!(check(
            &Condition::ChannelIn {
                channel_ids: vec![3, 7]
            },
            &sample()
        ));
        assert!(!check(
            &Condition::ChannelIn {
                channel_ids: vec![3]
            },
            &sample()
        ));
    }

    #[test]
    fn order_total_compares_decimals() {
        let c = |comparison, value: &str| Condition::OrderTotal {
            comparison,
            value: value.into(),
        };
        assert!(check(&c(Comparison::GreaterThan, "48.99"), &sample()));
        assert!(!check(&c(Comparison::GreaterThan, "49.00"), &sample()));
        assert!(check(&c(Comparison::LessThan, "100"), &sample()));
        assert!(!check(&c(Comparison::LessThan, "49"), &sample()));
        // "100.00" > "99.00" as numbers, though not as text.
        let big = order("GB", "100.00", vec![]);
        assert!(check(&c(Comparison::GreaterThan, "99.00"), &big));
        let garbled = order("GB", "n/a", vec![]);
        assert!(!check(&c(Comparison::GreaterThan, "0"), &garbled));
        assert!(!check(&c(Comparison::LessThan, "1000"), &garbled));
    }

    #[test]
    fn the_first_routing_match_wins_and_order_matters() {
        let uk = Condition::ShippingCountryIn {
            countries: vec!["GB".into()],
        };
        let any = Condition::ItemQuantity {
            comparison: Comparison::GreaterThan,
            value: 0,
        };
        let specific_first = [
            rule(1, uk.clone(), route(10)),
            rule(2, any.clone(), route(20)),
        ];
        let out = run(&specific_first, &sample());
        assert_eq!(out.plugin_id, Some(10));
        assert_eq!(
            out.matched,
            vec![1],
            "the second routing match does not act"
        );
        let catch_all_first = [rule(2, any, route(20)), rule(1, uk, route(10))];
        assert_eq!(run(&catch_all_first, &sample()).plugin_id, Some(20));
    }

    #[test]
    fn non_matching_rules_do_not_route() {
        let fr = Condition::ShippingCountryIn {
            countries: vec!["FR".into()],
        };
        let rules = [
            rule(1, fr, route(10)),
            rule(
                2,
                Condition::SkuIn {
                    skus: vec!["A".into()],
                },
                route(20),
            ),
        ];
        assert_eq!(run(&rules, &sample()).plugin_id, Some(20));
        assert_eq!(run(&rules[..1], &sample()), Outcome::default());
    }

    #[test]
    fn status_and_tag_actions_accumulate_around_routing() {
        let always = Condition::ItemQuantity {
            comparison: Comparison::GreaterThan,
            value: 0,
        };
        let rules = [
            rule(1, always.clone(), Action::AddTag { tag: "fc".into() }),
            rule(2, always.clone(), route(10)),
            rule(
                3,
                always.clone(),
                Action::SetSyncStatus {
                    status: RuleStatus::OnHold,
                },
            ),
            rule(4, always.clone(), Action::AddTag { tag: "big".into() }),
            rule(5, always.clone(), Action::AddTag { tag: "fc".into() }),
            rule(6, always.clone(), Action::AddTag { tag: "vip".into() }),
        ];
        let out = run(&rules, &sample());
        assert_eq!(out.plugin_id, Some(10));
        assert_eq!(out.status, Some(RuleStatus::OnHold));
        assert_eq!(
            out.tags,
            vec!["fc".to_owned(), "big".to_owned()],
            "no repeats, none the order already has"
        );
        assert_eq!(out.matched, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn excluded_outranks_on_hold_whatever_the_order() {
        let always = Condition::SkuIn {
            skus: vec!["A".into()],
        };
        let set = |id, status| rule(id, always.clone(), Action::SetSyncStatus { status });
        for rules in [
            [set(1, RuleStatus::Excluded), set(2, RuleStatus::OnHold)],
            [set(2, RuleStatus::OnHold), set(1, RuleStatus::Excluded)],
        ] {
            let out = run(&rules, &sample());
            assert_eq!(out.status, Some(RuleStatus::Excluded));
            assert_eq!(out.status_rule, Some(1));
        }
    }

    #[test]
    fn rule_tags_are_appended_without_repeats() {
        assert_eq!(
            merged_tags(&["a".into(), "b".into()], &["b".into(), "c".into()]),
            vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]
        );
    }

    #[test]
    fn inactive_rules_do_nothing() {
        let always = Condition::SkuIn {
            skus: vec!["A".into()],
        };
        let mut off = [
            rule(1, always.clone(), route(10)),
            rule(
                2,
                always.clone(),
                Action::SetSyncStatus {
                    status: RuleStatus::Excluded,
                },
            ),
            rule(3, always.clone(), Action::AddTag { tag: "x".into() }),
            rule(4, always.clone(), route(20)),
        ];
        for r in &mut off[..3] {
            r.active = false;
        }
        let out = run(&off, &sample());
        assert_eq!(
            out.plugin_id,
            Some(20),
            "an inactive route leaves the next to act"
        );
        assert_eq!(out.status, None);
        assert!(out.tags.is_empty());
        assert_eq!(out.matched, vec![4]);
    }

    #[test]
    fn conditions_and_actions_parse_and_are_checked() {
        assert_eq!(
            parse_condition(&json!({"type": "sku_in", "skus": [" A ", "B"]})),
            Ok(Condition::SkuIn {
                skus: vec!["A".into(), "B".into()]
            })
        );
        assert_eq!(
            parse_condition(&json!({"type": "shipping_country_in", "countries": ["gb"]})),
            Ok(Condition::ShippingCountryIn {
                countries: vec!["GB".into()]
            })
        );
        assert_eq!(
            parse_condition(
                &json!({"type": "order_total", "comparison": "greater_than", "value": "100.0"})
            ),
            Ok(Condition::OrderTotal {
                comparison: Comparison::GreaterThan,
                value: "100.0".into()
            })
        );
        let field = |v: Value| parse_condition(&v).err().map(|e| e.field);
        assert_eq!(
            field(json!({"type": "sku_in", "skus": []})).as_deref(),
            Some("skus")
        );
        assert_eq!(
            field(json!({"type": "sku_in", "skus": ["A", " "]})).as_deref(),
            Some("skus[1]")
        );
        assert_eq!(
            field(json!({"type": "shipping_country_in", "countries": ["GBR"]})).as_deref(),
            Some("countries[0]")
        );
        assert_eq!(
            field(json!({"type": "order_total", "comparison": "equal", "value": "1"})).as_deref(),
            Some("comparison")
        );
        assert_eq!(
            field(json!({"type": "order_total", "comparison": "less_than", "value": "abc"}))
                .as_deref(),
            Some("value")
        );
        // serde buffers a tagged enum's fields, so a wrongly typed one is blamed on the whole
        // condition; still refused.
        assert!(
            field(json!({"type": "item_quantity", "comparison": "equal", "value": -1})).is_some()
        );
        assert!(field(json!({"type": "nope"})).is_some());
        assert_eq!(
            field(json!({"type": "sku_exists", "extra": 1})).as_deref(),
            Some("extra")
        );
        assert_eq!(
            parse_action(&json!({"type": "add_tag", "tag": " fc "})),
            Ok(Action::AddTag { tag: "fc".into() })
        );
        assert_eq!(
            parse_action(&json!({"type": "set_sync_status", "status": "on_hold"})),
            Ok(Action::SetSyncStatus {
                status: RuleStatus::OnHold
            })
        );
        assert!(
            parse_action(&json!({"type": "set_sync_status", "status": "pending"})).is_err(),
            "a rule sets only `excluded` or `on_hold`"
        );
        assert_eq!(
            parse_action(&json!({"type": "add_tag", "tag": "a,b"}))
                .err()
                .map(|e| e.field)
                .as_deref(),
            Some("tag")
        );
        assert_eq!(
            parse_action(&json!({"type": "send_to_plugin", "plugin_id": 4}))
                .ok()
                .and_then(|a| a.plugin_id()),
            Some(4)
        );
    }
}
