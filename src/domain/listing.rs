//! A channel's listings as switchyard sees them, whatever the platform: how to address one, and
//! the catalogue details a listing carries.

use serde::{Deserialize, Serialize};

/// How to address one sellable item on the channel. Ids are strings because platforms disagree on
/// their size and type; each connector documents which fields it needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListingId {
    /// The product, or on eBay the SKU (the Inventory API's key for an item).
    pub product_id: String,
    /// The variant (Shopify), variation (WooCommerce) or published offer (eBay); `None` for a
    /// simple WooCommerce product or an eBay SKU on sale nowhere.
    pub variant_id: Option<String>,
    /// Shopify's inventory item, which is what stock is set on; the ASIN an Amazon listing
    /// offers (an Amazon listing is addressed by its SKU, in `product_id`, since the ASIN may
    /// come later and several SKUs may offer one ASIN).
    pub inventory_item_id: Option<String>,
}

/// A listing as the channel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub id: ListingId,
    pub sku: Option<String>,
    pub title: String,
    pub price: Option<String>,
    /// The channel's stock figure; `None` where the channel does not track stock for it.
    pub quantity: Option<i64>,
    /// The main image's address.
    pub image_url: Option<String>,
    pub weight: Option<Weight>,
    pub dimensions: Option<Dimensions>,
    pub customs: Option<Customs>,
}

/// A shipping weight as the channel states it: a decimal string and its unit (`g`, `kg`, `oz`,
/// `lb`), so no float or unit conversion touches it on the way through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ListingWeight, example = json!({"value": "0.78", "unit": "kg"}))]
pub struct Weight {
    /// A decimal string.
    pub value: String,
    /// `g`, `kg`, `oz` or `lb`.
    pub unit: String,
}

/// Package dimensions as decimal strings in one unit (`cm`, `in`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ListingDimensions, example = json!({"length": "35", "width": "28", "height": "6", "unit": "cm"}))]
pub struct Dimensions {
    pub length: String,
    pub width: String,
    pub height: String,
    pub unit: String,
}

/// What a customs declaration needs of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ListingCustoms, example = json!({"hs_code": "6404.11", "country_of_origin": "PT"}))]
pub struct Customs {
    /// Harmonized System tariff code.
    pub hs_code: Option<String>,
    /// ISO 3166-1 alpha-2 country of origin.
    pub country_of_origin: Option<String>,
}

impl Customs {
    /// `None` when neither field is known, so an empty declaration is not stored as if it were one.
    pub fn known(hs_code: Option<String>, country_of_origin: Option<String>) -> Option<Customs> {
        let keep = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let (hs_code, country_of_origin) = (keep(hs_code), keep(country_of_origin));
        (hs_code.is_some() || country_of_origin.is_some()).then_some(Customs {
            hs_code,
            country_of_origin,
        })
    }
}
