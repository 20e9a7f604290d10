//! The order generator: platform-neutral orders (who, where, which SKUs, paid or not) and later events
//! (payment, edits, cancellations), drawn from a seeded RNG so a run can be replayed. Each simulator
//! turns a [`NewOrder`] into its own platform's order.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// How a store's orders are generated. Changeable at run time through the control API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// Orders created per second by the background driver; 0 turns it off.
    pub orders_per_second: f64,
    /// Relative weights per SKU; empty means every catalogue SKU equally.
    pub sku_mix: BTreeMap<String, u32>,
    /// Lines per order are drawn from 1..=max_lines.
    pub max_lines: u32,
    /// Quantity per line is drawn from 1..=max_quantity.
    pub max_quantity: u32,
    /// ISO country codes of shipping addresses, drawn uniformly (repeat a code to weight it).
    pub countries: Vec<String>,
    /// Share of orders created unpaid.
    pub unpaid_ratio: f64,
    /// Share of orders created already fulfilled (shipped elsewhere, e.g. by the merchant by hand).
    pub fulfilled_ratio: f64,
    /// Chance, per new order, that an earlier order is updated (paid, or its note edited).
    pub update_ratio: f64,
    /// Chance, per new order, that an earlier unfulfilled order is cancelled.
    pub cancel_ratio: f64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 42,
            orders_per_second: 0.0,
            sku_mix: BTreeMap::new(),
            max_lines: 3,
            max_quantity: 3,
            countries: ["GB", "US", "DE", "FR", "CA", "AU"]
                .iter()
                .map(|c| (*c).to_string())
                .collect(),
            unpaid_ratio: 0.1,
            fulfilled_ratio: 0.05,
            update_ratio: 0.1,
            cancel_ratio: 0.02,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Address {
    pub first_name: String,
    pub last_name: String,
    pub company: Option<String>,
    pub address1: String,
    pub address2: Option<String>,
    pub city: String,
    pub province: String,
    pub province_code: String,
    pub zip: String,
    pub country: String,
    pub country_code: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewLine {
    pub sku: String,
    pub quantity: u32,
}

/// A platform-neutral order, before a simulator gives it ids and its platform's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewOrder {
    pub customer: Person,
    pub shipping: Address,
    pub billing: Address,
    pub lines: Vec<NewLine>,
    pub paid: bool,
    pub fulfilled: bool,
    pub shipping_cents: i64,
    pub discount_percent: i64,
    pub tax_percent: i64,
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub carrier: String,
    pub tracking_number: String,
}

/// Something that happens to an earlier order. `pick` selects it (modulo the order count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaterEvent {
    Update { pick: u64 },
    Cancel { pick: u64 },
}

/// Seeded generator plus the fractional carry of the rate driver.
#[derive(Debug)]
pub struct OrderGenerator {
    config: GeneratorConfig,
    rng: StdRng,
    catalog_skus: Vec<String>,
    carry: f64,
    serial: u64,
}

struct Country {
    code: &'static str,
    name: &'static str,
    tax_percent: i64,
    phone: &'static str,
    places: &'static [(&'static str, &'static str, &'static str, &'static str)],
}

const COUNTRIES: &[Country] = &[
    Country {
        code: "GB",
        name: "United Kingdom",
        tax_percent: 20,
        phone: "+44 20 7946 0",
        places: &[
            ("London", "England", "ENG", "EC1A 1BB"),
            ("Manchester", "England", "ENG", "M1 1AE"),
            ("Edinburgh", "Scotland", "SCT", "EH1 1YZ"),
        ],
    },
    Country {
        code: "US",
        name: "United States",
        tax_percent: 8,
        phone: "+1 555-010-",
        places: &[
            ("Portland", "Oregon", "OR", "97205"),
            ("Austin", "Texas", "TX", "78701"),
            ("Boston", "Massachusetts", "MA", "02108"),
        ],
    },
    Country {
        code: "DE",
        name: "Germany",
        tax_percent: 19,
        phone: "+49 30 901820",
        places: &[
            ("Berlin", "Berlin", "BE", "10115"),
            ("München", "Bayern", "BY", "80331"),
        ],
    },
    Country {
        code: "FR",
        name: "France",
        tax_percent: 20,
        phone: "+33 1 70 18 99 ",
        places: &[
            ("Paris", "Île-de-France", "IDF", "75001"),
            ("Lyon", "Auvergne-Rhône-Alpes", "ARA", "69001"),
        ],
    },
    Country {
        code: "CA",
        name: "Canada",
        tax_percent: 13,
        phone: "+1 613-555-01",
        places: &[
            ("Ottawa", "Ontario", "ON", "K1A 0B1"),
            ("Vancouver", "British Columbia", "BC", "V6B 1A1"),
        ],
    },
    Country {
        code: "AU",
        name: "Australia",
        tax_percent: 10,
        phone: "+61 2 5550 ",
        places: &[
            ("Sydney", "New South Wales", "NSW", "2000"),
            ("Melbourne", "Victoria", "VIC", "3000"),
        ],
    },
];

/// The countries orders are generated for, each with the sales tax its orders charge (whole
/// percent), in the order the generator knows them.
pub fn sales_tax_rates() -> impl Iterator<Item = (&'static str, i64)> {
    COUNTRIES.iter().map(|c| (c.code, c.tax_percent))
}

const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger",
    "Radia", "Tim", "Sophie", "Karen", "John",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Wilson",
    "Spärck Jones",
    "O'Neil",
];
const STREETS: &[&str] = &[
    "High Street",
    "Station Road",
    "Main Street",
    "Church Lane",
    "Park Avenue",
    "Mill Road",
];
const CARRIERS: &[&str] = &["UPS", "DHL Express", "Royal Mail", "USPS", "FedEx"];
const TAGS: &[&str] = &["wholesale", "vip", "gift", "repeat", "preorder"];

impl OrderGenerator {
    /// `catalog_skus` are the store's SKUs, used when the config has no SKU mix.
    pub fn new(config: GeneratorConfig, catalog_skus: Vec<String>) -> OrderGenerator {
        OrderGenerator {
            rng: StdRng::seed_from_u64(config.seed),
            config,
            catalog_skus,
            carry: 0.0,
            serial: 0,
        }
    }

    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Replaces the config; the RNG is reseeded only when the seed changes, so changing a rate mid-run
    /// does not replay the orders already made.
    pub fn set_config(&mut self, config: GeneratorConfig) {
        if config.seed != self.config.seed {
            self.rng = StdRng::seed_from_u64(config.seed);
        }
        self.config = config;
    }

    /// How many orders are due after `elapsed` at the configured rate, carrying fractions over.
    pub fn due(&mut self, elapsed: Duration) -> usize {
        let rate = self.config.orders_per_second;
        if rate.is_nan() || rate <= 0.0 {
            self.carry = 0.0;
            return 0;
        }
        self.carry += rate * elapsed.as_secs_f64();
        let whole = self.carry.floor();
        self.carry -= whole;
        whole as usize
    }

    /// Draws the next order.
    pub fn next_order(&mut self) -> NewOrder {
        self.serial += 1;
        let first = pick(&mut self.rng, FIRST).to_string();
        let last = pick(&mut self.rng, LAST).to_string();
        let code = if self.config.countries.is_empty() {
            "GB".to_string()
        } else {
            let i = self.rng.random_range(0..self.config.countries.len());
            self.config.countries[i].to_uppercase()
        };
        let country = COUNTRIES.iter().find(|c| c.code == code);
        let (name, tax_percent, phone_prefix, place) = match country {
            Some(c) => (
                c.name,
                c.tax_percent,
                c.phone,
                *pick(&mut self.rng, c.places),
            ),
            None => ("", 0, "+1 555-000-", ("Springfield", "", "", "00000")),
        };
        let phone = format!("{phone_prefix}{:03}", self.rng.random_range(0..1000));
        let email_name: String = format!("{first}.{last}")
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        let email = format!("{email_name}{}@example.com", self.serial);
        let company = self.rng.random_bool(0.2).then(|| format!("{last} & Co"));
        let address = Address {
            first_name: first.clone(),
            last_name: last.clone(),
            company,
            address1: format!(
                "{} {}",
                self.rng.random_range(1..200),
                pick(&mut self.rng, STREETS)
            ),
            address2: self
                .rng
                .random_bool(0.3)
                .then(|| format!("Flat {}", self.rng.random_range(1..40))),
            city: place.0.into(),
            province: place.1.into(),
            province_code: place.2.into(),
            zip: place.3.into(),
            country: name.into(),
            country_code: code.clone(),
            phone: phone.clone(),
        };
        let billing = if self.rng.random_bool(0.85) {
            address.clone()
        } else {
            Address {
                address1: format!(
                    "{} {}",
                    self.rng.random_range(1..200),
                    pick(&mut self.rng, STREETS)
                ),
                address2: None,
                ..address.clone()
            }
        };
        let line_count = self.rng.random_range(1..=self.config.max_lines.max(1));
        let mut lines: Vec<NewLine> = Vec::new();
        for _ in 0..line_count {
            let Some(sku) = self.pick_sku() else { break };
            let quantity = self.rng.random_range(1..=self.config.max_quantity.max(1));
            match lines.iter_mut().find(|l| l.sku == sku) {
                Some(line) => line.quantity += quantity,
                None => lines.push(NewLine { sku, quantity }),
            }
        }
        let paid = !self
            .rng
            .random_bool(self.config.unpaid_ratio.clamp(0.0, 1.0));
        let fulfilled = paid
            && self
                .rng
                .random_bool(self.config.fulfilled_ratio.clamp(0.0, 1.0));
        let tags = if self.rng.random_bool(0.2) {
            vec![pick(&mut self.rng, TAGS).to_string()]
        } else {
            Vec::new()
        };
        NewOrder {
            customer: Person {
                first_name: first,
                last_name: last,
                email,
                phone,
            },
            shipping: address,
            billing,
            lines,
            paid,
            fulfilled,
            shipping_cents: *pick(&mut self.rng, &[0, 495, 795, 1250]),
            discount_percent: if self.rng.random_bool(0.15) { 10 } else { 0 },
            tax_percent,
            tags,
            note: self
                .rng
                .random_bool(0.1)
                .then(|| "Please leave with a neighbour".to_string()),
            carrier: pick(&mut self.rng, CARRIERS).to_string(),
            tracking_number: format!("1Z{:016}", self.rng.random_range(0..10u64.pow(16))),
        }
    }

    /// Events on earlier orders that follow the creation of one new order.
    pub fn later_events(&mut self) -> Vec<LaterEvent> {
        let mut events = Vec::new();
        if self.config.update_ratio > 0.0
            && self
                .rng
                .random_bool(self.config.update_ratio.clamp(0.0, 1.0))
        {
            events.push(LaterEvent::Update {
                pick: self.rng.random(),
            });
        }
        if self.config.cancel_ratio > 0.0
            && self
                .rng
                .random_bool(self.config.cancel_ratio.clamp(0.0, 1.0))
        {
            events.push(LaterEvent::Cancel {
                pick: self.rng.random(),
            });
        }
        events
    }

    fn pick_sku(&mut self) -> Option<String> {
        let total: u64 = self.config.sku_mix.values().map(|w| u64::from(*w)).sum();
        if total == 0 {
            if self.catalog_skus.is_empty() {
                return None;
            }
            let i = self.rng.random_range(0..self.catalog_skus.len());
            return Some(self.catalog_skus[i].clone());
        }
        let mut roll = self.rng.random_range(0..total);
        for (sku, weight) in &self.config.sku_mix {
            let weight = u64::from(*weight);
            if roll < weight {
                return Some(sku.clone());
            }
            roll -= weight;
        }
        None
    }
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_orders_and_mix_is_respected() {
        let mut config = GeneratorConfig::default();
        config.sku_mix.insert("A".into(), 1);
        config.sku_mix.insert("B".into(), 0);
        let mut a = OrderGenerator::new(config.clone(), vec![]);
        let mut b = OrderGenerator::new(config, vec![]);
        for _ in 0..20 {
            let order = a.next_order();
            assert_eq!(order, b.next_order());
            assert!(order.lines.iter().all(|l| l.sku == "A"));
        }
    }

    #[test]
    fn due_carries_fractions() {
        let config = GeneratorConfig {
            orders_per_second: 2.5,
            ..GeneratorConfig::default()
        };
        let mut generator = OrderGenerator::new(config, vec!["X".into()]);
        let total: usize = (0..10)
            .map(|_| generator.due(Duration::from_millis(100)))
            .sum();
        assert_eq!(total, 2);
    }
}
