//! The `weather` skill: Open-Meteo's geocoding then its forecast, summarised in a sentence;
//! where those APIs are is configurable.

use futures::future::BoxFuture;
use openclaw_domain::Error;
use serde_json::{json, Value};

use super::catalogue::{Handler, Permissions, Skill};
use super::SkillContext;

#[derive(Debug, Clone)]
pub struct WeatherConfig {
    /// Open-Meteo's forecast API base (`…/v1/forecast` is appended).
    pub forecast_url: String,
    /// Open-Meteo's geocoding API base (`…/v1/search` is appended).
    pub geocoding_url: String,
}

impl Default for WeatherConfig {
    fn default() -> Self {
        WeatherConfig {
            forecast_url: "https://api.open-meteo.com".into(),
            geocoding_url: "https://geocoding-api.open-meteo.com".into(),
        }
    }
}

pub(super) fn manifest() -> Skill {
    Skill {
        name: "weather",
        // 1.2.0 is what S2 installs; S0 lists 1.0.0.
        version: "1.2.0",
        older_versions: &["1.0.0"],
        description: "The weather forecast for a city: today's conditions and the daily \
                      low and high in °C (Open-Meteo).",
        input_schema: json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 1, "maxLength": 100,
                         "description": "A city name in any language, e.g. 北京 or Berlin"},
                "days": {"type": "integer", "description": "Days of forecast, 1 to 7 (default 1)"}
            },
            "required": ["city"],
            "additionalProperties": false
        }),
        output_schema: json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "country": {"type": ["string", "null"]},
                "summary": {"type": "string"},
                "daily": {"type": "array"}
            },
            "required": ["city", "summary", "daily"],
            "additionalProperties": false
        }),
        permissions: Permissions {
            network: true,
            ..Permissions::default()
        },
        check: Some(check_weather),
        handler: Handler::Net(weather),
    }
}

fn check_weather(input: &Value, path: &str) -> Result<(), Error> {
    match input.get("days").and_then(Value::as_i64) {
        Some(d) if !(1..=7).contains(&d) => Err(Error::invalid(
            format!("{path}.days"),
            "`days` must be between 1 and 7",
        )),
        _ => Ok(()),
    }
}

/// WMO weather codes, as Open-Meteo reports them, in words.
fn weather_words(code: i64) -> &'static str {
    match code {
        0 => "clear",
        1..=2 => "partly cloudy",
        3 => "overcast",
        45 | 48 => "fog",
        51..=57 => "drizzle",
        61..=67 => "rain",
        71..=77 => "snow",
        80..=82 => "rain showers",
        85 | 86 => "snow showers",
        95..=99 => "thunderstorm",
        _ => "unknown",
    }
}

fn weather<'a>(input: &'a Value, ctx: &'a SkillContext) -> BoxFuture<'a, Result<Value, Error>> {
    Box::pin(async move {
        let city = input["city"].as_str().unwrap_or_default().trim();
        let days = input["days"].as_i64().unwrap_or(1);
        let json_of = |f: crate::outbound::Fetched, what: &str| -> Result<Value, Error> {
            if f.status != 200 {
                return Err(Error::new(
                    openclaw_domain::ErrorKind::Upstream,
                    format!("the {what} service answered HTTP {}", f.status),
                ));
            }
            serde_json::from_slice(&f.body).map_err(|_| {
                Error::new(
                    openclaw_domain::ErrorKind::Upstream,
                    format!("the {what} service sent something unreadable"),
                )
            })
        };
        let mut search = reqwest::Url::parse(&format!(
            "{}/v1/search",
            ctx.weather.geocoding_url.trim_end_matches('/')
        ))
        .map_err(|_| Error::internal())?;
        search
            .query_pairs_mut()
            .append_pair("name", city)
            .append_pair("count", "1");
        let places = json_of(
            ctx.outbound.get(search.as_str(), "input.city").await?,
            "geocoding",
        )?;
        let Some(place) = places["results"].get(0) else {
            return Err(Error::invalid(
                "input.city",
                format!("no place called `{city}` was found"),
            ));
        };
        let (lat, lon) = (place["latitude"].as_f64(), place["longitude"].as_f64());
        let (Some(lat), Some(lon)) = (lat, lon) else {
            return Err(Error::new(
                openclaw_domain::ErrorKind::Upstream,
                "the geocoding service sent a place without coordinates",
            ));
        };
        let mut forecast = reqwest::Url::parse(&format!(
            "{}/v1/forecast",
            ctx.weather.forecast_url.trim_end_matches('/')
        ))
        .map_err(|_| Error::internal())?;
        forecast
            .query_pairs_mut()
            .append_pair("latitude", &lat.to_string())
            .append_pair("longitude", &lon.to_string())
            .append_pair(
                "daily",
                "weather_code,temperature_2m_max,temperature_2m_min",
            )
            .append_pair("timezone", "auto")
            .append_pair("forecast_days", &days.to_string());
        let f = json_of(
            ctx.outbound.get(forecast.as_str(), "input.city").await?,
            "forecast",
        )?;
        let daily = &f["daily"];
        let column = |name: &str| daily[name].as_array().cloned().unwrap_or_default();
        let (dates, codes, highs, lows) = (
            column("time"),
            column("weather_code"),
            column("temperature_2m_max"),
            column("temperature_2m_min"),
        );
        let days: Vec<Value> = dates
            .iter()
            .enumerate()
            .map(|(i, date)| {
                let code = codes.get(i).and_then(Value::as_i64).unwrap_or(-1);
                json!({
                    "date": date,
                    "conditions": weather_words(code),
                    "weather_code": code,
                    "min_c": lows.get(i),
                    "max_c": highs.get(i),
                })
            })
            .collect();
        let name = place["name"].as_str().unwrap_or(city).to_string();
        // A sentence, as S0 shows its result ("北京今天晴,温度 20-28°C"): whole degrees
        // without a decimal point.
        let degrees = |v: &Value| match v.as_f64() {
            Some(t) if t.fract() == 0.0 => format!("{t:.0}"),
            Some(t) => format!("{t:.1}"),
            None => "?".into(),
        };
        let summary = match days.first() {
            Some(d) => format!(
                "{name} today: {}, {}–{} °C",
                d["conditions"].as_str().unwrap_or("unknown"),
                degrees(&d["min_c"]),
                degrees(&d["max_c"])
            ),
            None => format!("{name}: no forecast available"),
        };
        Ok(json!({
            "city": name,
            "country": place["country"],
            "summary": summary,
            "daily": days,
        }))
    })
}
