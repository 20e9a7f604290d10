//! A channel's settings, named as the merchant sees them (DESIGN.md "Domain model").
//!
//! Every field has a default, so `{}` is a valid, conservative channel: only paid, unshipped
//! orders, polled every three minutes, no stock pushed. Unknown fields are refused so a typo
//! (`import_unpayed`) is an error rather than a setting silently left at its default.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FieldError;

/// Scheduled imports may not run more often than this: platforms rate-limit per shop, and a
/// channel's webhooks already bring changes in between.
pub const MIN_POLL_INTERVAL_SECS: u32 = 30;
/// Nor less often than daily, which would read as a broken channel.
pub const MAX_POLL_INTERVAL_SECS: u32 = 86_400;
pub const DEFAULT_POLL_INTERVAL_SECS: u32 = 180;
/// A new channel's first import reads this many days back unless its settings say otherwise:
/// recent enough that connecting a shop with years of orders does not import (and reserve stock
/// for) all of them, long enough to take in the orders still waiting to be despatched.
pub const DEFAULT_IMPORT_DAYS: u32 = 30;
/// Ten years: further back than any platform keeps orders listable.
pub const MAX_IMPORT_DAYS: u32 = 3650;
/// A channel's stock is reconciled against what it holds no more often than this: each
/// reconciliation reads every listing of the channel and brings its orders up to date first.
pub const MIN_STOCK_RECONCILE_INTERVAL_SECS: u32 = 60;
/// Nor, when on, less often than daily: a hand edit would otherwise stand for days.
pub const MAX_STOCK_RECONCILE_INTERVAL_SECS: u32 = 86_400;
pub const DEFAULT_STOCK_RECONCILE_INTERVAL_SECS: u32 = 900;
/// Bound on filter lists: enough for any real catalogue filter, small enough to check per order.
pub const MAX_FILTER_ENTRIES: usize = 10_000;

/// Whether a filter's list names what passes or what is kept out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterMode {
    /// Only what the list names passes.
    Allow,
    /// Everything but what the list names passes.
    Deny,
}

/// Filter on the country an order ships to (ISO 3166-1 alpha-2, upper case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mode": "deny", "countries": ["FR"]}))]
pub struct CountryFilter {
    pub mode: FilterMode,
    /// ISO 3166-1 alpha-2 codes, upper case; an `allow` list names at least one.
    #[schema(max_items = 10_000)]
    pub countries: Vec<String>,
}

/// Filter on the SKUs of an order's lines (exact, case-sensitive, as platforms store them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mode": "allow", "skus": ["TENT-2P", "MAT-1"]}))]
pub struct SkuFilter {
    pub mode: FilterMode,
    /// Non-empty, without spaces at either end; an `allow` list names at least one.
    #[schema(max_items = 10_000)]
    pub skus: Vec<String>,
}

/// Where a channel's first import starts: the orders changed on the channel since then are read,
/// older ones never. Once an import has committed, the channel's saved cursor decides instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = json!({"days": 30}))]
pub enum ImportStart {
    /// The last this many days before the first import (1 to 3650).
    Days(u32),
    /// A fixed time (RFC 3339), not in the future.
    Since(DateTime<Utc>),
}

impl Default for ImportStart {
    fn default() -> Self {
        ImportStart::Days(DEFAULT_IMPORT_DAYS)
    }
}

impl ImportStart {
    /// The time a first import made at `now` reads from.
    pub fn start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match *self {
            ImportStart::Days(days) => now - chrono::Duration::days(i64::from(days)),
            ImportStart::Since(t) => t,
        }
    }

    fn validate_at(&self, now: DateTime<Utc>) -> Result<(), FieldError> {
        match *self {
            ImportStart::Days(days) if !(1..=MAX_IMPORT_DAYS).contains(&days) => {
                Err(FieldError::new(
                    "import_start.days",
                    format!("must be between 1 and {MAX_IMPORT_DAYS} days"),
                ))
            }
            ImportStart::Since(t) if t > now => Err(FieldError::new(
                "import_start.since",
                "must not be in the future",
            )),
            _ => Ok(()),
        }
    }
}

/// How switchyard treats a channel. Answers carry every key; a request may leave any out, and it
/// takes its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(example = json!({
    "import_unpaid": false, "import_not_ready": false,
    "country_filter": {"mode": "deny", "countries": ["FR"]}, "sku_filter": null,
    "poll_interval_secs": 180, "stock_management": true, "download_products": true,
    "add_to_main_products": false, "auto_sync_stock": true, "stock_buffer": 2,
    "location_id": null, "skip_fba_orders": false, "stock_reconcile_interval_secs": 900,
    "import_start": {"days": 30}
}))]
pub struct ChannelSettings {
    /// Import orders not paid yet (WooCommerce's `pending`, Shopify's pending payment, Amazon's
    /// `Pending`, eBay's `PENDING` payment) as work; otherwise they are kept as excluded until
    /// paid.
    pub import_unpaid: bool,
    /// Import orders the channel says are not ready for despatch (WooCommerce's `on-hold`, a
    /// Shopify fulfilment hold or a scheduled fulfilment, an Amazon pre-order), held in switchyard
    /// as `on_hold` with the channel's reason so nothing fulfils them by mistake; otherwise they
    /// are kept as excluded. Either way, once the channel lifts its hold the order becomes work.
    pub import_not_ready: bool,
    /// Only orders shipping to (`allow`) or not to (`deny`) these countries become work; the
    /// others are stored as `excluded`. Null: every country.
    pub country_filter: Option<CountryFilter>,
    /// Only orders with a line of (`allow`) or with no line of (`deny`) these SKUs become work;
    /// the others are stored as `excluded`. Null: every order.
    pub sku_filter: Option<SkuFilter>,
    /// Seconds between scheduled imports of this channel's orders (default 180).
    #[schema(minimum = 30, maximum = 86_400)]
    pub poll_interval_secs: u32,
    /// Push stock to the channel's listings; while off, nothing is pushed to it.
    pub stock_management: bool,
    /// Download the channel's listings on the product timer (`/v1/channels/{id}/products`).
    pub download_products: bool,
    /// When listings are downloaded, add a store product (with no stock) for each SKU of an
    /// unmapped listing that no product of the store has.
    pub add_to_main_products: bool,
    /// With `stock_management`, push stock whenever it changes, not only on "push all".
    pub auto_sync_stock: bool,
    /// Units held back from the quantity pushed to this channel.
    #[schema(format = Int64, maximum = 4_294_967_295.0)]
    pub stock_buffer: u32,
    /// Shopify only: the location (its numeric id, as in the admin's address
    /// `/admin/settings/locations/{id}`) whose `available` stock switchyard reads and sets; null is
    /// the shop's primary location. Checked with the shop when set. WooCommerce keeps one figure
    /// per product, so it has no locations and refuses a value.
    #[schema(format = Int64, minimum = 1)]
    pub location_id: Option<u64>,
    /// Amazon only: leave out the orders Amazon fulfils itself (FBA) altogether, asking Amazon
    /// for the seller's own (`FulfillmentChannels=MFN`). Off, they are stored as shipped, tagged
    /// `FBA`, and never become work. Other kinds refuse it.
    pub skip_fba_orders: bool,
    /// With `stock_management`, seconds between reconciliations of the channel's stock: what
    /// each listing holds on the channel is read and, where it differs from what switchyard
    /// pushed (a hand edit in the platform's admin), set back (default 900; 60 to 86,400; 0 is
    /// off). `POST /v1/channels/{id}/stock/reconcile` runs one at any time.
    #[schema(maximum = 86_400)]
    pub stock_reconcile_interval_secs: u32,
    /// Where the channel's first import starts: `{"days": n}` reads the orders changed in the
    /// last n days (1 to 3650; default 30), `{"since": "2026-11-01T00:00:00Z"}` those changed
    /// since then (not in the future). Older orders are never imported, so a shop with years of
    /// history does not flood the store. It applies only while the channel has imported nothing;
    /// after that each import continues from where the last one ended.
    pub import_start: ImportStart,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        ChannelSettings {
            import_unpaid: false,
            import_not_ready: false,
            country_filter: None,
            sku_filter: None,
            poll_interval_secs: DEFAULT_POLL_INTERVAL_SECS,
            stock_management: false,
            download_products: false,
            add_to_main_products: false,
            auto_sync_stock: false,
            stock_buffer: 0,
            location_id: None,
            skip_fba_orders: false,
            stock_reconcile_interval_secs: DEFAULT_STOCK_RECONCILE_INTERVAL_SECS,
            import_start: ImportStart::default(),
        }
    }
}

fn is_country_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())
}

impl ChannelSettings {
    /// Reads settings from JSON and validates them; the error names the field
    /// (`country_filter.countries[1]`).
    pub fn from_json(value: &Value) -> Result<ChannelSettings, FieldError> {
        if !value.is_object() {
            return Err(FieldError::new(".", "settings must be a JSON object"));
        }
        let settings: ChannelSettings =
            serde_path_to_error::deserialize(value).map_err(FieldError::from_serde)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what the types cannot: ranges, code formats, list sizes, a start not in the future
    /// (on this host's clock: see [`ChannelSettings::validate_at`]).
    pub fn validate(&self) -> Result<(), FieldError> {
        self.validate_at(Utc::now())
    }

    /// [`ChannelSettings::validate`] as at `now`.
    pub fn validate_at(&self, now: DateTime<Utc>) -> Result<(), FieldError> {
        self.import_start.validate_at(now)?;
        if !(MIN_POLL_INTERVAL_SECS..=MAX_POLL_INTERVAL_SECS).contains(&self.poll_interval_secs) {
            return Err(FieldError::new(
                "poll_interval_secs",
                format!(
                    "must be between {MIN_POLL_INTERVAL_SECS} and {MAX_POLL_INTERVAL_SECS} seconds"
                ),
            ));
        }
        let reconcile = self.stock_reconcile_interval_secs;
        let reconcile_range = MIN_STOCK_RECONCILE_INTERVAL_SECS..=MAX_STOCK_RECONCILE_INTERVAL_SECS;
        if reconcile != 0 && !reconcile_range.contains(&reconcile) {
            return Err(FieldError::new(
                "stock_reconcile_interval_secs",
                format!(
                    "must be 0 (off) or between {MIN_STOCK_RECONCILE_INTERVAL_SECS} and \
                     {MAX_STOCK_RECONCILE_INTERVAL_SECS} seconds"
                ),
            ));
        }
        if let Some(filter) = &self.country_filter {
            check_list("country_filter.countries", filter.mode, &filter.countries)?;
            for (i, code) in filter.countries.iter().enumerate() {
                if !is_country_code(code) {
                    return Err(FieldError::new(
                        format!("country_filter.countries[{i}]"),
                        format!(
                            "`{code}` is not an ISO 3166-1 alpha-2 code (two upper-case letters)"
                        ),
                    ));
                }
            }
        }
        if self.location_id == Some(0) {
            return Err(FieldError::new(
                "location_id",
                "a location id is a positive number",
            ));
        }
        if let Some(filter) = &self.sku_filter {
            check_list("sku_filter.skus", filter.mode, &filter.skus)?;
            for (i, sku) in filter.skus.iter().enumerate() {
                if sku.trim().is_empty() || sku.trim() != sku {
                    return Err(FieldError::new(
                        format!("sku_filter.skus[{i}]"),
                        "a SKU must be non-empty, without surrounding spaces",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The settings as a JSON object (for storage and for merging a partial update onto them).
    pub fn to_json(&self) -> Value {
        // A struct of plain fields always serialises; `Null` is an unreachable fallback.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// An allow list that names nothing would exclude every order: certainly a mistake.
fn check_list(field: &str, mode: FilterMode, list: &[String]) -> Result<(), FieldError> {
    if mode == FilterMode::Allow && list.is_empty() {
        return Err(FieldError::new(
            field,
            "an allow list must name at least one entry (it would exclude every order)",
        ));
    }
    if list.len() > MAX_FILTER_ENTRIES {
        return Err(FieldError::new(
            field,
            format!("at most {MAX_FILTER_ENTRIES} entries"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(value: Value) -> Option<String> {
        ChannelSettings::from_json(&value).err().map(|e| e.field)
    }

    #[test]
    fn an_empty_object_is_the_conservative_default() {
        let s = ChannelSettings::from_json(&json!({})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s, ChannelSettings::default());
        assert!(!s.import_unpaid && !s.import_not_ready && !s.auto_sync_stock);
        assert_eq!(s.poll_interval_secs, 180);
        assert_eq!(s.stock_buffer, 0);
        assert_eq!(s.country_filter, None);
    }

    #[test]
    fn settings_round_trip_through_json() {
        let s = ChannelSettings {
            import_unpaid: true,
            country_filter: Some(CountryFilter {
                mode: FilterMode::Deny,
                countries: vec!["US".into()],
            }),
            sku_filter: Some(SkuFilter {
                mode: FilterMode::Allow,
                skus: vec!["A-1".into()],
            }),
            stock_buffer: 3,
            ..ChannelSettings::default()
        };
        let json = s.to_json();
        assert_eq!(json["country_filter"]["mode"], "deny");
        assert_eq!(ChannelSettings::from_json(&json).ok(), Some(s));
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_named() {
        assert_eq!(
            field_of(json!({"import_unpayed": true})).as_deref(),
            Some("import_unpayed")
        );
        assert_eq!(
            field_of(json!({"stock_buffer": -1})).as_deref(),
            Some("stock_buffer")
        );
        assert_eq!(
            field_of(json!({"country_filter": {"mode": "maybe", "countries": []}})).as_deref(),
            Some("country_filter.mode")
        );
        assert_eq!(
            field_of(json!({"sku_filter": {"mode": "deny"}})).as_deref(),
            Some("sku_filter.skus")
        );
        assert_eq!(field_of(json!([])).as_deref(), Some("."));
    }

    #[test]
    fn the_poll_interval_has_a_floor_and_a_ceiling() {
        assert_eq!(
            field_of(json!({"poll_interval_secs": 29})).as_deref(),
            Some("poll_interval_secs")
        );
        assert_eq!(field_of(json!({"poll_interval_secs": 30})), None);
        assert_eq!(field_of(json!({"poll_interval_secs": 86_400})), None);
        assert_eq!(
            field_of(json!({"poll_interval_secs": 86_401})).as_deref(),
            Some("poll_interval_secs")
        );
    }

    #[test]
    fn stock_reconciliation_is_on_by_default_off_at_zero_and_bounded_otherwise() {
        assert_eq!(
            ChannelSettings::default().stock_reconcile_interval_secs,
            900
        );
        let key = "stock_reconcile_interval_secs";
        for ok in [0, 60, 86_400] {
            assert_eq!(field_of(json!({key: ok})), None, "{ok}");
        }
        for bad in [1, 59, 86_401] {
            assert_eq!(field_of(json!({key: bad})).as_deref(), Some(key), "{bad}");
        }
        assert_eq!(field_of(json!({key: null})).as_deref(), Some(key));
    }

    #[test]
    fn country_codes_are_two_upper_case_letters() {
        let with = |countries: Value| {
            field_of(json!({"country_filter": {"mode": "allow", "countries": countries}}))
        };
        assert_eq!(with(json!(["GB", "US"])), None);
        assert_eq!(
            with(json!(["GB", "us"])).as_deref(),
            Some("country_filter.countries[1]")
        );
        assert_eq!(
            with(json!(["GBR"])).as_deref(),
            Some("country_filter.countries[0]")
        );
        assert_eq!(
            with(json!(["G1"])).as_deref(),
            Some("country_filter.countries[0]")
        );
        assert_eq!(
            with(json!([])).as_deref(),
            Some("country_filter.countries"),
            "an empty allow list would exclude everything"
        );
        let deny_nothing = json!({"country_filter": {"mode": "deny", "countries": []}});
        assert_eq!(field_of(deny_nothing), None);
    }

    #[test]
    fn skus_must_be_non_empty_and_trimmed() {
        let with = |skus: Value| field_of(json!({"sku_filter": {"mode": "deny", "skus": skus}}));
        assert_eq!(with(json!(["A-1", "b 2"])), None);
        assert_eq!(
            with(json!(["A-1", ""])).as_deref(),
            Some("sku_filter.skus[1]")
        );
        assert_eq!(with(json!([" A-1"])).as_deref(), Some("sku_filter.skus[0]"));
    }

    #[test]
    fn the_first_import_starts_thirty_days_back_unless_set() {
        let now = DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let s = ChannelSettings::from_json(&json!({})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.import_start, ImportStart::Days(30));
        assert_eq!(s.to_json()["import_start"], json!({"days": 30}));
        assert_eq!(
            s.import_start.start(now).to_rfc3339(),
            "2026-11-05T12:00:00+00:00"
        );
        let s = ChannelSettings::from_json(&json!({"import_start": {"days": 7}}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.import_start.start(now).to_rfc3339(),
            "2026-11-28T12:00:00+00:00"
        );
        let since = json!({"import_start": {"since": "2026-11-01T00:00:00Z"}});
        let s = ChannelSettings::from_json(&since).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.import_start.start(now).to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(ChannelSettings::from_json(&s.to_json()).ok(), Some(s));
    }

    #[test]
    fn an_import_start_is_within_ten_years_and_never_in_the_future() {
        let field = |start: Value| field_of(json!({ "import_start": start }));
        assert_eq!(field(json!({"days": 1})), None);
        assert_eq!(field(json!({"days": 3650})), None);
        assert_eq!(
            field(json!({"days": 0})).as_deref(),
            Some("import_start.days")
        );
        assert_eq!(
            field(json!({"days": 3651})).as_deref(),
            Some("import_start.days")
        );
        assert_eq!(
            field(json!({"days": -1})).as_deref(),
            Some("import_start.days")
        );
        let tomorrow = Utc::now() + chrono::Duration::days(1);
        assert_eq!(
            field(json!({ "since": tomorrow })).as_deref(),
            Some("import_start.since")
        );
        assert_eq!(
            field(json!({"since": "yesterday"})).as_deref(),
            Some("import_start.since")
        );
        assert_eq!(
            field(json!({"weeks": 2}))
                .as_deref()
                .map(|f| f.starts_with("import_start")),
            Some(true)
        );
    }
}
