//! What a Sage business holds (ledger accounts, tax rates, contacts, sales invoices) and how each
//! is written on the wire: full objects as `GET /{resource}/{id}` answers them, with linked records
//! as `{id, displayed_as, $path}` references and decimals as strings (see [`super::decimal`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Value};

use super::decimal::{self, units};

/// `2024-07-01T10:00:00Z`, as Sage writes every timestamp.
pub fn timestamp(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A link to another record: `{id, displayed_as, $path}`.
pub fn reference(collection: &str, id: &str, displayed_as: &str) -> Value {
    json!({"id": id, "displayed_as": displayed_as, "$path": format!("/{collection}/{id}")})
}

fn opt(value: &Option<String>) -> Value {
    value
        .as_ref()
        .map_or(Value::Null, |s| Value::String(s.clone()))
}

/// A UK tax rate. Sage infers a zero tax amount for the zero, exempt and no-tax kinds; for the
/// others a line must state its tax amount.
#[derive(Debug, Clone)]
pub struct TaxRate {
    pub id: &'static str,
    pub name: &'static str,
    pub percentage: i128,
    pub inferred_zero: bool,
}

impl TaxRate {
    pub fn displayed_as(&self) -> String {
        if self.id == "GB_NO_TAX" {
            return self.name.to_string();
        }
        format!("{} {}%", self.name, percent_2dp(self.percentage))
    }

    pub fn link(&self) -> Value {
        reference("tax_rates", self.id, &self.displayed_as())
    }

    pub fn to_json(&self, created: DateTime<Utc>) -> Value {
        let created = timestamp(created);
        json!({
            "id": self.id,
            "displayed_as": self.displayed_as(),
            "$path": format!("/tax_rates/{}", self.id),
            "created_at": created,
            "updated_at": created,
            "name": self.name,
            "agency": null,
            "percentage": decimal::json(self.percentage),
            "percentages": [{
                "percentage": decimal::json(self.percentage),
                "from_date": "2011-01-04",
                "to_date": null
            }],
            "is_visible": true,
            "retailer": false,
            "editable": false,
            "deletable": false,
            "is_combined_rate": false,
            "component_tax_rates": []
        })
    }
}

/// `20.00`, as Sage names a rate.
fn percent_2dp(micros: i128) -> String {
    let cents = decimal::round_money(micros) / (decimal::SCALE / 100);
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The UK rates every business starts with.
pub fn uk_tax_rates() -> Vec<TaxRate> {
    let rate = |id, name, percent: i64, inferred_zero| TaxRate {
        id,
        name,
        percentage: units(percent),
        inferred_zero,
    };
    vec![
        rate("GB_STANDARD", "Standard", 20, false),
        rate("GB_LOWER", "Lower Rate", 5, false),
        rate("GB_ZERO", "Zero", 0, true),
        rate("GB_EXEMPT", "Exempt", 0, true),
        rate("GB_NO_TAX", "No Tax", 0, true),
    ]
}

#[derive(Debug, Clone)]
pub struct LedgerAccount {
    pub id: String,
    pub nominal_code: u32,
    pub name: &'static str,
    /// `SALES`, `OTHER_INCOME`, `CURRENT_ASSETS`, `DIRECT_EXPENSES`.
    pub type_id: &'static str,
    pub type_name: &'static str,
    pub tax_rate_id: Option<&'static str>,
    pub visible_in_sales: bool,
    pub is_control_account: bool,
}

impl LedgerAccount {
    pub fn displayed_as(&self) -> String {
        format!("{} ({})", self.name, self.nominal_code)
    }

    pub fn link(&self) -> Value {
        reference("ledger_accounts", &self.id, &self.displayed_as())
    }

    pub fn to_json(&self, rates: &[TaxRate], created: DateTime<Utc>) -> Value {
        let created = timestamp(created);
        let tax_rate = self
            .tax_rate_id
            .and_then(|id| rates.iter().find(|r| r.id == id))
            .map_or(Value::Null, TaxRate::link);
        let (group_id, group_name) = match self.type_id {
            "SALES" | "OTHER_INCOME" => ("INCOME", "Income"),
            "DIRECT_EXPENSES" => ("EXPENDITURE", "Expenditure"),
            _ => ("BALANCE_SHEET", "Balance Sheet"),
        };
        let mut scopes = Vec::new();
        if self.visible_in_sales {
            scopes.extend(["sales", "journals", "reporting"]);
        } else {
            scopes.extend(["journals", "reporting"]);
        }
        json!({
            "id": self.id,
            "displayed_as": self.displayed_as(),
            "$path": format!("/ledger_accounts/{}", self.id),
            "created_at": created,
            "updated_at": created,
            "ledger_account_group": {"id": group_id, "displayed_as": group_name},
            "name": self.name,
            "display_name": self.name,
            "visible_scopes": scopes,
            "included_in_chart": true,
            "nominal_code": self.nominal_code,
            "ledger_account_type": reference("ledger_account_types", self.type_id, self.type_name),
            "tax_rate": tax_rate,
            "fixed_tax_rate": false,
            "visible_in_banking": false,
            "visible_in_expenses": self.type_id == "DIRECT_EXPENSES",
            "visible_in_journals": true,
            "visible_in_other_payments": false,
            "visible_in_other_receipts": self.visible_in_sales,
            "visible_in_reporting": true,
            "visible_in_sales": self.visible_in_sales,
            "is_control_account": self.is_control_account,
            "control_name": null,
            "display_formatted": format!("{} - {}", self.nominal_code, self.name)
        })
    }
}

/// A UK chart of accounts, trimmed to what sales need; `id_of` turns a nominal code into an id.
pub fn uk_ledger_accounts(id_of: impl Fn(u32) -> String) -> Vec<LedgerAccount> {
    let account =
        |code, name, type_id, type_name, tax: Option<&'static str>, sales, control| LedgerAccount {
            id: id_of(code),
            nominal_code: code,
            name,
            type_id,
            type_name,
            tax_rate_id: tax,
            visible_in_sales: sales,
            is_control_account: control,
        };
    let std = Some("GB_STANDARD");
    vec![
        account(
            1100,
            "Trade Debtors",
            "CURRENT_ASSETS",
            "Current Assets",
            None,
            false,
            true,
        ),
        account(4000, "Sales - Products", "SALES", "Sales", std, true, false),
        account(4010, "Sales - Services", "SALES", "Sales", std, true, false),
        account(4020, "Sales - Other", "SALES", "Sales", std, true, false),
        account(
            4900,
            "Other Income",
            "OTHER_INCOME",
            "Other Income",
            std,
            true,
            false,
        ),
        account(
            4905,
            "Distribution and Carriage",
            "OTHER_INCOME",
            "Other Income",
            std,
            true,
            false,
        ),
        account(
            5000,
            "Cost of Sales - Goods",
            "DIRECT_EXPENSES",
            "Direct Expenses",
            std,
            false,
            false,
        ),
    ]
}

/// An address as a contact or an invoice holds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Address {
    pub address_line_1: Option<String>,
    pub address_line_2: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub region: Option<String>,
    /// ISO code, e.g. `GB`.
    pub country_id: Option<String>,
}

impl Address {
    /// Reads the fields Sage accepts in `main_address`; `None` when absent or not an object.
    pub fn from_json(value: Option<&Value>) -> Option<Address> {
        let object = value?.as_object()?;
        let text = |k: &str| object.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Address {
            address_line_1: text("address_line_1"),
            address_line_2: text("address_line_2"),
            city: text("city"),
            postal_code: text("postal_code"),
            region: text("region"),
            country_id: text("country_id"),
        })
    }

    fn one_line(&self) -> String {
        [
            &self.address_line_1,
            &self.address_line_2,
            &self.city,
            &self.region,
            &self.postal_code,
        ]
        .iter()
        .filter_map(|p| p.as_deref())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// Rendered with `id` and `$path` under `collection` (`addresses`), or without when `None`.
    pub fn to_json(&self, id: Option<&str>) -> Value {
        let country = self
            .country_id
            .as_ref()
            .map_or(Value::Null, |c| reference("countries", c, c));
        let mut object = json!({
            "displayed_as": self.one_line(),
            "address_line_1": opt(&self.address_line_1),
            "address_line_2": opt(&self.address_line_2),
            "city": opt(&self.city),
            "postal_code": opt(&self.postal_code),
            "region": opt(&self.region),
            "country": country
        });
        if let (Some(id), Some(map)) = (id, object.as_object_mut()) {
            map.insert("id".into(), json!(id));
            map.insert("$path".into(), json!(format!("/addresses/{id}")));
        }
        object
    }
}

#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub reference: Option<String>,
    /// `CUSTOMER`, `VENDOR`.
    pub contact_types: Vec<String>,
    pub email: Option<String>,
    pub tax_number: Option<String>,
    pub notes: Option<String>,
    pub main_address: Option<Address>,
    pub default_sales_ledger_account_id: Option<String>,
    pub default_sales_tax_rate_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Contact {
    /// `Name (REF)`, or the bare name without a reference, as Sage shows a contact.
    pub fn displayed_as(&self) -> String {
        match &self.reference {
            Some(r) if !r.is_empty() => format!("{} ({r})", self.name),
            _ => self.name.clone(),
        }
    }

    pub fn is_customer(&self) -> bool {
        self.contact_types.iter().any(|t| t == "CUSTOMER")
    }

    pub fn link(&self) -> Value {
        reference("contacts", &self.id, &self.displayed_as())
    }

    pub fn to_json(&self, accounts: &[LedgerAccount], rates: &[TaxRate]) -> Value {
        let created = timestamp(self.created_at);
        let types: Vec<Value> = self
            .contact_types
            .iter()
            .map(|t| {
                let name = if t == "CUSTOMER" {
                    "Customer"
                } else {
                    "Supplier"
                };
                reference("contact_types", t, name)
            })
            .collect();
        let account = self
            .default_sales_ledger_account_id
            .as_ref()
            .and_then(|id| accounts.iter().find(|a| &a.id == id))
            .map_or(Value::Null, LedgerAccount::link);
        let rate = self
            .default_sales_tax_rate_id
            .as_ref()
            .and_then(|id| rates.iter().find(|r| r.id == id))
            .map_or(Value::Null, TaxRate::link);
        let person = match &self.email {
            Some(email) => json!({
                "id": format!("{}p", &self.id[..31]),
                "displayed_as": self.name,
                "$path": format!("/contact_persons/{}p", &self.id[..31]),
                "name": self.name,
                "email": email,
                "is_main_contact": true
            }),
            None => Value::Null,
        };
        let address_id = format!("{}a", &self.id[..31]);
        json!({
            "id": self.id,
            "displayed_as": self.displayed_as(),
            "$path": format!("/contacts/{}", self.id),
            "created_at": created,
            "updated_at": created,
            "links": [],
            "deleted_at": null,
            "balance": "0.0",
            "contact_types": types,
            "name": self.name,
            "reference": opt(&self.reference),
            "default_sales_ledger_account": account,
            "default_sales_tax_rate": rate,
            "default_purchase_ledger_account": null,
            "tax_number": opt(&self.tax_number),
            "notes": opt(&self.notes),
            "locale": "en",
            "main_address": self.main_address.as_ref().map_or(Value::Null, |a| a.to_json(Some(&address_id))),
            "delivery_address": null,
            "main_contact_person": person,
            "bank_account_details": null,
            "credit_limit": "0.0",
            "credit_days": 30,
            "credit_terms_and_conditions": null,
            "source_guid": null,
            "currency": reference("currencies", "GBP", "Pound Sterling (GBP)"),
            "aux_reference": null,
            "registered_number": null,
            "deletable": true,
            "tax_treatment": {
                "home_tax": true,
                "eu_tax_registered": false,
                "eu_not_tax_registered": false,
                "rest_of_world_tax": false,
                "is_importer": false
            },
            "email": opt(&self.email),
            "tax_calculation": null,
            "auxiliary_account": null,
            "gdpr_obfuscated": false,
            "system": false,
            "has_unfinished_recurring_invoices": false
        })
    }
}

/// One line of a sales invoice with its amounts worked out.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceLine {
    pub id: String,
    pub description: String,
    pub product_id: Option<String>,
    pub ledger_account_id: String,
    pub quantity: i128,
    pub unit_price: i128,
    pub unit_price_includes_tax: bool,
    pub discount_amount: i128,
    pub tax_rate_id: String,
    pub net_amount: i128,
    pub tax_amount: i128,
    pub total_amount: i128,
}

#[derive(Debug, Clone)]
pub struct SalesInvoice {
    pub id: String,
    /// The n of `SI-n`.
    pub number: u64,
    pub contact_id: String,
    pub contact_name: String,
    pub contact_reference: Option<String>,
    pub date: NaiveDate,
    pub due_date: NaiveDate,
    pub reference: Option<String>,
    pub notes: Option<String>,
    pub terms_and_conditions: Option<String>,
    pub main_address: Option<Address>,
    pub lines: Vec<InvoiceLine>,
    pub shipping_net_amount: i128,
    pub shipping_tax_rate_id: Option<String>,
    pub shipping_tax_amount: i128,
    pub created_at: DateTime<Utc>,
    /// Sage keeps a created record's answer for a week against its `idempotency_id`.
    pub idempotency_id: Option<String>,
}

impl SalesInvoice {
    pub fn invoice_number(&self) -> String {
        format!("SI-{}", self.number)
    }

    pub fn net_amount(&self) -> i128 {
        self.lines.iter().map(|l| l.net_amount).sum::<i128>() + self.shipping_net_amount
    }

    pub fn tax_amount(&self) -> i128 {
        self.lines.iter().map(|l| l.tax_amount).sum::<i128>() + self.shipping_tax_amount
    }

    pub fn total_amount(&self) -> i128 {
        self.net_amount() + self.tax_amount()
    }

    /// The invoice as `GET /sales_invoices/{id}` answers it.
    pub fn to_json(
        &self,
        contact: Option<&Contact>,
        accounts: &[LedgerAccount],
        rates: &[TaxRate],
    ) -> Value {
        let rate_link = |id: &str| {
            rates
                .iter()
                .find(|r| r.id == id)
                .map_or(Value::Null, TaxRate::link)
        };
        let rate_percent = |id: &str| {
            rates
                .iter()
                .find(|r| r.id == id)
                .map_or(0, |r| r.percentage)
        };
        let number = self.invoice_number();
        let created = timestamp(self.created_at);
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                let account = accounts
                    .iter()
                    .find(|a| a.id == l.ledger_account_id)
                    .map_or(Value::Null, LedgerAccount::link);
                let breakdown = json!([{
                    "tax_rate": rate_link(&l.tax_rate_id),
                    "percentage": decimal::json(rate_percent(&l.tax_rate_id)),
                    "amount": decimal::json(l.tax_amount)
                }]);
                let gross = decimal::times(l.quantity, l.unit_price);
                let discount_percentage = if gross == 0 {
                    0
                } else {
                    l.discount_amount * 100 * decimal::SCALE / gross
                };
                json!({
                    "id": l.id,
                    "displayed_as": l.description,
                    "description": l.description,
                    "product": l.product_id.as_ref().map_or(Value::Null, |p| reference("products", p, &l.description)),
                    "service": null,
                    "ledger_account": account,
                    "trade_of_asset": false,
                    "quantity": decimal::json(l.quantity),
                    "unit_price": decimal::json(l.unit_price),
                    "net_amount": decimal::json(l.net_amount),
                    "tax_rate": rate_link(&l.tax_rate_id),
                    "tax_amount": decimal::json(l.tax_amount),
                    "tax_breakdown": breakdown,
                    "total_amount": decimal::json(l.total_amount),
                    "base_currency_unit_price": decimal::json(l.unit_price),
                    "unit_price_includes_tax": l.unit_price_includes_tax,
                    "base_currency_net_amount": decimal::json(l.net_amount),
                    "base_currency_tax_amount": decimal::json(l.tax_amount),
                    "base_currency_tax_breakdown": breakdown,
                    "base_currency_total_amount": decimal::json(l.total_amount),
                    "eu_goods_services_type": null,
                    "discount_amount": decimal::json(l.discount_amount),
                    "base_currency_discount_amount": decimal::json(l.discount_amount),
                    "discount_percentage": decimal::json(discount_percentage),
                    "eu_sales_description": null
                })
            })
            .collect();
        let mut analysis: Vec<(String, i128, i128)> = Vec::new();
        for l in &self.lines {
            match analysis.iter_mut().find(|(id, _, _)| *id == l.tax_rate_id) {
                Some(entry) => {
                    entry.1 += l.net_amount;
                    entry.2 += l.tax_amount;
                }
                None => analysis.push((l.tax_rate_id.clone(), l.net_amount, l.tax_amount)),
            }
        }
        let analysis: Vec<Value> = analysis
            .iter()
            .map(|(id, net, tax)| {
                json!({
                    "tax_rate": rate_link(id),
                    "net_amount": decimal::json(*net),
                    "tax_amount": decimal::json(*tax),
                    "total_amount": decimal::json(net + tax),
                    "goods_amount": decimal::json(*net),
                    "service_amount": "0.0"
                })
            })
            .collect();
        let shipping_rate = self.shipping_tax_rate_id.as_deref();
        let shipping_breakdown: Vec<Value> = shipping_rate
            .map(|id| {
                json!({
                    "tax_rate": rate_link(id),
                    "percentage": decimal::json(rate_percent(id)),
                    "amount": decimal::json(self.shipping_tax_amount)
                })
            })
            .into_iter()
            .collect();
        let shipping_total = self.shipping_net_amount + self.shipping_tax_amount;
        let discount: i128 = self.lines.iter().map(|l| l.discount_amount).sum();
        let quantity: i128 = self.lines.iter().map(|l| l.quantity).sum();
        let (net, tax, total) = (self.net_amount(), self.tax_amount(), self.total_amount());
        let contact_link = contact.map_or_else(
            || reference("contacts", &self.contact_id, &self.contact_name),
            Contact::link,
        );
        let address = self
            .main_address
            .as_ref()
            .map_or(Value::Null, |a| a.to_json(None));
        let mut object = Map::new();
        let mut put = |k: &str, v: Value| {
            object.insert(k.to_string(), v);
        };
        put("id", json!(self.id));
        put("displayed_as", json!(number));
        put("$path", json!(format!("/sales_invoices/{}", self.id)));
        put("created_at", json!(created));
        put("updated_at", json!(created));
        put("links", json!([]));
        put("editable", json!(true));
        put("tax_calculation_method", Value::Null);
        put(
            "transaction",
            json!({
                "id": format!("{}t", &self.id[..31]),
                "displayed_as": number,
                "$path": format!("/transactions/{}t", &self.id[..31])
            }),
        );
        put(
            "transaction_type",
            reference("transaction_types", "SALES_INVOICE", "Sales Invoice"),
        );
        put("deleted_at", Value::Null);
        put("is_cis", json!(false));
        put("contact", contact_link);
        put("invoice_number_prefix", json!("SI-"));
        put("invoice_number", json!(number));
        put("contact_name", json!(self.contact_name));
        put("contact_reference", opt(&self.contact_reference));
        put("date", json!(self.date.format("%Y-%m-%d").to_string()));
        put(
            "due_date",
            json!(self.due_date.format("%Y-%m-%d").to_string()),
        );
        put("reference", opt(&self.reference));
        put("main_address", address);
        put("delivery_address", Value::Null);
        put("notes", opt(&self.notes));
        put("terms_and_conditions", opt(&self.terms_and_conditions));
        put(
            "shipping_net_amount",
            decimal::json(self.shipping_net_amount),
        );
        put(
            "shipping_tax_rate",
            shipping_rate.map_or(Value::Null, rate_link),
        );
        put(
            "shipping_tax_amount",
            decimal::json(self.shipping_tax_amount),
        );
        put("shipping_tax_breakdown", json!(shipping_breakdown));
        put("shipping_total_amount", decimal::json(shipping_total));
        put("net_amount", decimal::json(net));
        put("tax_amount", decimal::json(tax));
        put("total_amount", decimal::json(total));
        put("payments_allocations_total_amount", json!("0.0"));
        put("payments_allocations_total_discount", json!("0.0"));
        put("total_paid", json!("0.0"));
        put("outstanding_amount", decimal::json(total));
        put(
            "currency",
            reference("currencies", "GBP", "Pound Sterling (GBP)"),
        );
        put("exchange_rate", json!("1.0"));
        put("inverse_exchange_rate", json!("1.0"));
        put(
            "base_currency_shipping_net_amount",
            decimal::json(self.shipping_net_amount),
        );
        put(
            "base_currency_shipping_tax_amount",
            decimal::json(self.shipping_tax_amount),
        );
        put(
            "base_currency_shipping_tax_breakdown",
            json!(shipping_breakdown),
        );
        put(
            "base_currency_shipping_total_amount",
            decimal::json(shipping_total),
        );
        put("total_quantity", decimal::json(quantity));
        put("total_discount_amount", decimal::json(discount));
        put(
            "base_currency_total_discount_amount",
            decimal::json(discount),
        );
        put("base_currency_net_amount", decimal::json(net));
        put("base_currency_tax_amount", decimal::json(tax));
        put("base_currency_total_amount", decimal::json(total));
        put("base_currency_outstanding_amount", decimal::json(total));
        put("status", reference("artefact_statuses", "UNPAID", "Unpaid"));
        put("sent", json!(false));
        put("sent_by_email", json!(false));
        put("void_reason", Value::Null);
        put("invoice_lines", json!(lines));
        put("tax_analysis", json!(analysis));
        put("payments_allocations", json!([]));
        put("last_paid", Value::Null);
        put("tax_reconciled", json!(false));
        put("migrated", json!(false));
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_sage_shows_them() {
        let rates = uk_tax_rates();
        assert_eq!(rates[0].displayed_as(), "Standard 20.00%");
        assert_eq!(rates[4].displayed_as(), "No Tax");
        let accounts = uk_ledger_accounts(|code| format!("{code:032}"));
        assert_eq!(accounts[1].displayed_as(), "Sales - Products (4000)");
        let contact = Contact {
            id: "0".repeat(32),
            name: "Northwind Traders".into(),
            reference: Some("NORTH01".into()),
            contact_types: vec!["CUSTOMER".into()],
            email: None,
            tax_number: None,
            notes: None,
            main_address: None,
            default_sales_ledger_account_id: None,
            default_sales_tax_rate_id: None,
            created_at: DateTime::default(),
        };
        assert_eq!(contact.displayed_as(), "Northwind Traders (NORTH01)");
        assert_eq!(
            Contact {
                reference: None,
                ..contact
            }
            .displayed_as(),
            "Northwind Traders"
        );
    }
}
