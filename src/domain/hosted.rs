//! Hosted pages' rules: the provider's branding, made safe by construction (colours are parsed
//! to `#rrggbb`, fonts picked from a list, the title is text, the logo an https URL), with the
//! text's contrast checked against WCAG and replaced when it would be unreadable; and which
//! channel settings the customer sees and may change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::settings::ChannelSettings;
use crate::error::FieldError;

/// Longest page title, in characters.
pub const MAX_TITLE: usize = 80;
/// WCAG 2.1 AA: normal text needs 4.5:1 against its background.
pub const MIN_TEXT_CONTRAST: f64 = 4.5;

/// A colour, always `#rrggbb` in lower case once parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "#0b5fff")]
pub struct Colour(String);

impl TryFrom<String> for Colour {
    type Error = String;

    fn try_from(text: String) -> Result<Colour, String> {
        let hex = text
            .trim()
            .strip_prefix('#')
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("{text:?} is not a colour; use #rrggbb or #rgb"))?;
        let full = match hex.len() {
            6 => hex.to_ascii_lowercase(),
            3 => hex
                .chars()
                .flat_map(|c| [c, c])
                .collect::<String>()
                .to_ascii_lowercase(),
            _ => return Err(format!("{text:?} is not a colour; use #rrggbb or #rgb")),
        };
        Ok(Colour(format!("#{full}")))
    }
}

impl From<Colour> for String {
    fn from(c: Colour) -> String {
        c.0
    }
}

impl Colour {
    pub fn hex(&self) -> &str {
        &self.0
    }

    fn channels(&self) -> [f64; 3] {
        let byte = |i: usize| {
            let value = u8::from_str_radix(&self.0[1 + 2 * i..3 + 2 * i], 16).unwrap_or(0);
            f64::from(value) / 255.0
        };
        [byte(0), byte(1), byte(2)]
    }

    /// WCAG relative luminance.
    pub fn luminance(&self) -> f64 {
        let linear = |c: f64| {
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.channels().map(linear);
        0.2126 * r + 0.7152 * g + 0.0722 * b
    }

    /// WCAG contrast ratio, 1 to 21.
    pub fn contrast(&self, other: &Colour) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    fn of(hex: &str) -> Colour {
        Colour(hex.to_owned())
    }

    /// Black or white, whichever reads better on `self` (one always reaches 4.5:1).
    pub fn readable_text(&self) -> Colour {
        let (black, white) = (Colour::of("#000000"), Colour::of("#ffffff"));
        if self.contrast(&black) >= self.contrast(&white) {
            black
        } else {
            white
        }
    }
}

/// The fonts a page may use: system font stacks, so nothing is fetched from elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Font {
    #[default]
    System,
    Serif,
    Rounded,
    Monospace,
}

impl Font {
    pub fn stack(self) -> &'static str {
        match self {
            Font::System => "system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif",
            Font::Serif => "Georgia, \"Times New Roman\", serif",
            Font::Rounded => "ui-rounded, \"Arial Rounded MT Bold\", system-ui, sans-serif",
            Font::Monospace => "ui-monospace, \"SFMono-Regular\", Menlo, monospace",
        }
    }
}

/// How the page looks: the provider's colours, font, logo and title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(example = json!({"title": "Connect your shop to Parcel Co", "logo_url": "https://parcel.example/logo.png",
    "primary_colour": "#0b5fff", "background_colour": "#ffffff", "text_colour": "#1b1f23", "font": "system"}))]
pub struct Branding {
    /// The page's heading, shown as text.
    pub title: String,
    /// An https image shown above the title.
    pub logo_url: Option<String>,
    /// Buttons and links.
    pub primary_colour: Colour,
    pub background_colour: Colour,
    pub text_colour: Colour,
    pub font: Font,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            title: "Connect your sales channel".to_owned(),
            logo_url: None,
            primary_colour: Colour::of("#0b5fff"),
            background_colour: Colour::of("#ffffff"),
            text_colour: Colour::of("#1b1f23"),
            font: Font::System,
        }
    }
}

/// The colours a page is drawn with, after the contrast checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    pub background: Colour,
    pub text: Colour,
    pub primary: Colour,
    /// Text on primary-coloured buttons.
    pub on_primary: Colour,
    /// Links: the primary colour when it reads on the background, else the text colour.
    pub link: Colour,
    /// What was replaced, for the provider to read on `GET /v1/hosted-pages/{id}`.
    pub replaced: Vec<String>,
}

impl Branding {
    /// Checks what the types cannot: the title's length and the logo's URL.
    pub fn validate(&self) -> Result<(), FieldError> {
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(FieldError::new(
                "branding.title",
                format!("must be 1 to {MAX_TITLE} characters"),
            ));
        }
        if title.chars().any(char::is_control) {
            return Err(FieldError::new(
                "branding.title",
                "must not contain control characters",
            ));
        }
        if let Some(logo) = &self.logo_url {
            let url = url::Url::parse(logo).map_err(|_| {
                FieldError::new("branding.logo_url", "must be an absolute https URL")
            })?;
            if url.scheme() != "https" || url.host_str().is_none() || logo.len() > 2048 {
                return Err(FieldError::new(
                    "branding.logo_url",
                    "must be an absolute https URL of at most 2048 characters",
                ));
            }
        }
        Ok(())
    }

    /// The colours to draw with: the provider's, except text that would not reach 4.5:1 on its
    /// background, which becomes black or white.
    pub fn palette(&self) -> Palette {
        let mut replaced = Vec::new();
        let background = self.background_colour.clone();
        let text = if self.text_colour.contrast(&background) >= MIN_TEXT_CONTRAST {
            self.text_colour.clone()
        } else {
            let fallback = background.readable_text();
            replaced.push(format!(
                "text_colour {} has a contrast of {:.1}:1 on {}; {} is used",
                self.text_colour.hex(),
                self.text_colour.contrast(&background),
                background.hex(),
                fallback.hex()
            ));
            fallback
        };
        let link = if self.primary_colour.contrast(&background) >= MIN_TEXT_CONTRAST {
            self.primary_colour.clone()
        } else {
            replaced.push(format!(
                "primary_colour {} has a contrast of {:.1}:1 on {}; links use the text colour",
                self.primary_colour.hex(),
                self.primary_colour.contrast(&background),
                background.hex()
            ));
            text.clone()
        };
        Palette {
            on_primary: self.primary_colour.readable_text(),
            primary: self.primary_colour.clone(),
            background,
            text,
            link,
            replaced,
        }
    }
}

/// One channel setting as the page offers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// The value the channel gets unless the customer changes it (any JSON the setting takes).
    pub preset: Value,
    /// Shown on the page.
    #[serde(default = "yes")]
    pub visible: bool,
    /// The customer may change it (only for on/off settings, and only when visible).
    #[serde(default)]
    pub editable: bool,
}

fn yes() -> bool {
    true
}

/// The on/off settings a customer may be offered, with the words the page shows for each.
pub const SWITCHES: [(&str, &str); 6] = [
    (
        "stock_management",
        "Keep my stock levels up to date from switchyard",
    ),
    (
        "auto_sync_stock",
        "Send stock changes as soon as they happen",
    ),
    ("download_products", "Download my product listings"),
    (
        "add_to_main_products",
        "Add products I list to the catalogue",
    ),
    ("import_unpaid", "Import orders before they are paid"),
    (
        "import_not_ready",
        "Import orders not ready for despatch (held)",
    ),
];

/// The page's settings: each offered setting by name, the rest at their defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Inputs(pub BTreeMap<String, Input>);

impl Inputs {
    /// Every input names a channel setting, an editable one is a visible switch, and the
    /// presets together make valid settings.
    pub fn validate(&self) -> Result<ChannelSettings, FieldError> {
        for (name, input) in &self.0 {
            let at = format!("inputs.{name}");
            let is_switch = SWITCHES.iter().any(|(n, _)| n == name);
            if input.editable && !is_switch {
                return Err(FieldError::new(
                    at,
                    format!(
                        "only on/off settings can be editable: {}",
                        SWITCHES.map(|(n, _)| n).join(", ")
                    ),
                ));
            }
            if input.editable && !input.visible {
                return Err(FieldError::new(at, "an editable setting must be visible"));
            }
        }
        self.presets()
    }

    /// The settings a channel gets when the customer changes nothing.
    pub fn presets(&self) -> Result<ChannelSettings, FieldError> {
        let mut settings = serde_json::to_value(ChannelSettings::default())
            .map_err(|e| FieldError::new("inputs", e.to_string()))?;
        for (name, input) in &self.0 {
            if settings.get(name).is_none() {
                return Err(FieldError::new(
                    format!("inputs.{name}"),
                    "is not a channel setting",
                ));
            }
            settings[name.as_str()] = input.preset.clone();
        }
        ChannelSettings::from_json(&settings).map_err(|e| FieldError {
            field: format!("inputs.{}.preset", e.field.trim_start_matches('.')),
            reason: e.reason,
        })
    }

    /// The settings for a customer's answers: `chosen` holds the switches they left on (an
    /// unchecked box sends nothing). Only editable switches are read; anything else in the
    /// form is ignored, so a hidden or fixed setting cannot be changed by editing the form.
    pub fn apply(&self, chosen: &[String]) -> Result<ChannelSettings, FieldError> {
        let mut settings = serde_json::to_value(self.presets()?)
            .map_err(|e| FieldError::new("inputs", e.to_string()))?;
        for (name, input) in &self.0 {
            if input.editable {
                settings[name.as_str()] = Value::Bool(chosen.iter().any(|c| c == name));
            }
        }
        ChannelSettings::from_json(&settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn colour(text: &str) -> Colour {
        Colour::try_from(text.to_owned()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn colours_are_hex_and_nothing_else() {
        assert_eq!(colour("#0B5FFF").hex(), "#0b5fff");
        assert_eq!(colour("#abc").hex(), "#aabbcc");
        for bad in [
            "red",
            "#12345",
            "#1234567",
            "#12345g",
            "</style><script>alert(1)</script>",
            "#fff;background:url(x)",
            "",
        ] {
            assert!(Colour::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn contrast_follows_wcag() {
        let (black, white) = (colour("#000"), colour("#fff"));
        assert!((black.contrast(&white) - 21.0).abs() < 1e-9);
        assert!((white.contrast(&white) - 1.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1.
        assert!((colour("#767676").contrast(&white) - 4.54).abs() < 0.01);
        assert_eq!(colour("#ffff00").readable_text(), black);
        assert_eq!(colour("#0b1f5f").readable_text(), white);
    }

    #[test]
    fn unreadable_text_and_links_are_replaced_and_said_so() {
        let branding = Branding {
            text_colour: colour("#eeeeee"),
            primary_colour: colour("#ffee00"),
            ..Branding::default()
        };
        let p = branding.palette();
        assert_eq!(p.text.hex(), "#000000");
        assert_eq!(p.link, p.text);
        assert_eq!(p.on_primary.hex(), "#000000");
        assert_eq!(p.replaced.len(), 2, "{:?}", p.replaced);
        assert!(Branding::default().palette().replaced.is_empty());
    }

    #[test]
    fn titles_and_logos_are_checked() {
        let b = |title: &str, logo: Option<&str>| Branding {
            title: title.to_owned(),
            logo_url: logo.map(str::to_owned),
            ..Branding::default()
        };
        assert!(b("Parcel Co", Some("https://parcel.example/l.png"))
            .validate()
            .is_ok());
        assert_eq!(b("", None).validate().unwrap_err().field, "branding.title");
        assert_eq!(
            b("x", Some("javascript:alert(1)"))
                .validate()
                .unwrap_err()
                .field,
            "branding.logo_url"
        );
        assert!(b("x", Some("http://parcel.example/l.png"))
            .validate()
            .is_err());
    }

    #[test]
    fn inputs_preset_show_and_let_change_only_what_the_provider_allows() {
        let inputs: Inputs = serde_json::from_value(json!({
            "stock_management": {"preset": true, "visible": true, "editable": true},
            "auto_sync_stock": {"preset": true, "visible": false},
            "poll_interval_secs": {"preset": 600, "visible": true},
        }))
        .unwrap_or_default();
        let presets = inputs.validate().unwrap_or_default();
        assert!(presets.stock_management && presets.auto_sync_stock);
        assert_eq!(presets.poll_interval_secs, 600);
        // The customer unticks stock management and tries to switch off the hidden one too.
        let chosen = inputs
            .apply(&["auto_sync_stock".to_owned()])
            .unwrap_or_default();
        assert!(!chosen.stock_management);
        assert!(chosen.auto_sync_stock, "a hidden setting keeps its preset");
        assert_eq!(chosen.poll_interval_secs, 600);

        let bad = |v: Value| {
            serde_json::from_value::<Inputs>(v)
                .map_err(|e| e.to_string())
                .and_then(|i| i.validate().map_err(|e| e.field))
                .unwrap_err()
        };
        assert_eq!(bad(json!({"nope": {"preset": true}})), "inputs.nope");
        assert_eq!(
            bad(json!({"poll_interval_secs": {"preset": 600, "editable": true}})),
            "inputs.poll_interval_secs"
        );
        assert_eq!(
            bad(json!({"stock_management": {"preset": true, "visible": false, "editable": true}})),
            "inputs.stock_management"
        );
        assert_eq!(
            bad(json!({"poll_interval_secs": {"preset": 5}})),
            "inputs.poll_interval_secs.preset"
        );
    }
}
