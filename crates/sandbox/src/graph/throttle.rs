//! Graph's throttling of identity and access calls (users, groups, licenses;
//! `reference/api-facts.md` §1.3), on the sandbox clock.
//!
//! Every `/v1.0` request costs resource units (a base of 1; `GET /users` 2,
//! `GET /subscribedSkus` 3, `GET .../memberOf` 2, `GET /groups/{id}/members`
//! 3; `$select` −1, `$expand` +1, `$top` under 20 −1; never under 1), and a
//! write (POST, PATCH, PUT, DELETE) costs 1 unit and 1 write. Each quota is a
//! token bucket that refills evenly over its window:
//!
//! | scope | quota |
//! | --- | --- |
//! | app + tenant | 3,500 / 5,000 / 8,000 units per 10 s (tenant of < 50 / 50–500 / > 500 users) |
//! | app + tenant | 3,000 writes per 150 s |
//! | app (all tenants) | 150,000 units per 20 s, 35,000 writes per 300 s |
//! | tenant (all apps) | 18,000 writes per 300 s |
//!
//! A request that one bucket cannot pay is answered 429 with `Retry-After` (the
//! seconds until that bucket holds enough), `x-ms-throttle-scope` and
//! `x-ms-throttle-information`, and takes nothing from any bucket; one that
//! passes carries `x-ms-resource-unit`, and `x-ms-throttle-limit-percentage`
//! once its app + tenant bucket is more than 80 % used, as Graph does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::{HeaderValue, Method};
use serde::{Deserialize, Serialize};

/// The quotas, `[sandbox.graph.throttling]`; Graph's documented ones by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleSettings {
    /// Off: nothing is counted (a load test of Onboard's own cost).
    pub enabled: bool,
    /// Units per 10 s per app and tenant, for a small, medium and large tenant.
    pub app_tenant_units_per_10s: [u32; 3],
    /// Writes per 150 s per app and tenant.
    pub app_tenant_writes_per_150s: u32,
    /// Units per 20 s per app, across its tenants.
    pub app_units_per_20s: u32,
    /// Writes per 300 s per app, across its tenants.
    pub app_writes_per_300s: u32,
    /// Writes per 300 s per tenant, across the apps.
    pub tenant_writes_per_300s: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            app_tenant_units_per_10s: [3_500, 5_000, 8_000],
            app_tenant_writes_per_150s: 3_000,
            app_units_per_20s: 150_000,
            app_writes_per_300s: 35_000,
            tenant_writes_per_300s: 18_000,
        }
    }
}

/// What one request costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cost {
    pub(crate) units: u32,
    pub(crate) writes: u32,
}

impl Cost {
    /// The cost of `method` on `path` (under `/v1.0`) with `query`.
    pub(crate) fn of(method: &Method, path: &str, query: Option<&str>) -> Cost {
        if *method != Method::GET && *method != Method::HEAD {
            return Cost {
                units: 1,
                writes: 1,
            };
        }
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let base: i64 = match segments.as_slice() {
            ["users"] => 2,
            ["subscribedSkus"] => 3,
            ["users" | "me", .., "memberOf"] => 2,
            ["groups", _, "members"] => 3,
            _ => 1,
        };
        let mut units = base;
        for pair in query.unwrap_or("").split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = name.replace("%24", "$");
            match name.as_str() {
                "$select" => units -= 1,
                "$expand" => units += 1,
                "$top" if value.parse::<u32>().is_ok_and(|top| top < 20) => units -= 1,
                _ => {}
            }
        }
        Cost {
            units: u32::try_from(units.max(1)).unwrap_or(1),
            writes: 0,
        }
    }
}

/// A tenant's size class, by its users: small (< 50), medium (50–500), large.
pub(crate) fn size_class(users: usize) -> usize {
    match users {
        0..50 => 0,
        50..=500 => 1,
        _ => 2,
    }
}

/// One quota: `capacity` tokens, refilled evenly over `window_seconds`.
#[derive(Debug, Clone)]
struct Bucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    at: jiff::Timestamp,
}

impl Bucket {
    fn new(capacity: u32, window_seconds: u32, now: jiff::Timestamp) -> Self {
        let capacity = f64::from(capacity.max(1));
        Self {
            capacity,
            per_second: capacity / f64::from(window_seconds.max(1)),
            tokens: capacity,
            at: now,
        }
    }

    fn refill(&mut self, now: jiff::Timestamp) {
        if now > self.at {
            let elapsed = now.duration_since(self.at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
            self.at = now;
        }
    }

    /// Seconds until `cost` can be paid; 0 when it can now.
    fn wait_for(&self, cost: f64) -> f64 {
        if self.tokens >= cost {
            0.0
        } else {
            (cost.min(self.capacity) - self.tokens) / self.per_second
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    /// `Retry-After`, whole seconds, at least 1.
    pub(crate) retry_after_seconds: u64,
    /// `x-ms-throttle-scope`.
    pub(crate) scope: String,
    /// `x-ms-throttle-information`.
    pub(crate) information: &'static str,
}

/// What a request that passed carries back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Admitted {
    /// `x-ms-resource-unit`.
    pub(crate) units: u32,
    /// The app + tenant unit bucket's use after this request, 0 to 1.
    pub(crate) used: f64,
}

impl Admitted {
    /// `x-ms-throttle-limit-percentage`, only above 0.8 (as Graph sends it).
    pub(crate) fn limit_percentage(&self) -> Option<HeaderValue> {
        (self.used > 0.8)
            .then(|| HeaderValue::from_str(&format!("{:.2}", self.used.min(1.0))).ok())
            .flatten()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    AppTenantUnits(String, String),
    AppTenantWrites(String, String),
    AppUnits(String),
    AppWrites(String),
    TenantWrites(String),
}

/// Every bucket of the simulator, behind one lock, on the sandbox clock.
#[derive(Clone)]
pub(crate) struct Throttle {
    clock: crate::SandboxClock,
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    settings: ThrottleSettings,
    buckets: HashMap<Key, Bucket>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("settings", &self.settings())
            .finish_non_exhaustive()
    }
}

impl Throttle {
    pub(crate) fn new(settings: ThrottleSettings, clock: crate::SandboxClock) -> Self {
        Self {
            clock,
            inner: Arc::new(Mutex::new(Inner {
                settings,
                buckets: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The quotas now.
    pub(crate) fn settings(&self) -> ThrottleSettings {
        self.lock().settings.clone()
    }

    /// New quotas, every bucket full again (`PUT /sandbox/graph/control`).
    pub(crate) fn set(&self, settings: ThrottleSettings) {
        let mut inner = self.lock();
        inner.settings = settings;
        inner.buckets.clear();
    }

    /// Takes `cost` from every bucket `app` calling into `tenant` (of size
    /// class `size`) draws on, or none of them when one cannot pay.
    pub(crate) fn admit(
        &self,
        app: &str,
        tenant: &str,
        size: usize,
        cost: Cost,
    ) -> Result<Admitted, Refusal> {
        let now = (self.clock)();
        let mut inner = self.lock();
        let Inner {
            settings: s,
            buckets,
        } = &mut *inner;
        if !s.enabled {
            return Ok(Admitted {
                units: cost.units,
                used: 0.0,
            });
        }
        let units_quota = s.app_tenant_units_per_10s[size.min(2)];
        let mut wanted: Vec<(Key, u32, u32, u32, &'static str, String)> = vec![(
            Key::AppTenantUnits(app.to_owned(), tenant.to_owned()),
            cost.units,
            units_quota,
            10,
            "ResourceUnitLimitExceeded",
            format!("Tenant_Application/ReadWrite/{app}/{tenant}"),
        )];
        wanted.push((
            Key::AppUnits(app.to_owned()),
            cost.units,
            s.app_units_per_20s,
            20,
            "ResourceUnitLimitExceeded",
            format!("Application/ReadWrite/{app}"),
        ));
        if cost.writes > 0 {
            wanted.push((
                Key::AppTenantWrites(app.to_owned(), tenant.to_owned()),
                cost.writes,
                s.app_tenant_writes_per_150s,
                150,
                "WriteLimitExceeded",
                format!("Tenant_Application/ReadWrite/{app}/{tenant}"),
            ));
            wanted.push((
                Key::AppWrites(app.to_owned()),
                cost.writes,
                s.app_writes_per_300s,
                300,
                "WriteLimitExceeded",
                format!("Application/ReadWrite/{app}"),
            ));
            wanted.push((
                Key::TenantWrites(tenant.to_owned()),
                cost.writes,
                s.tenant_writes_per_300s,
                300,
                "WriteLimitExceeded",
                format!("Tenant/ReadWrite/{tenant}"),
            ));
        }
        let mut refusal: Option<(f64, &'static str, String)> = None;
        for (key, amount, quota, window, information, scope) in &wanted {
            let bucket = buckets
                .entry(key.clone())
                .or_insert_with(|| Bucket::new(*quota, *window, now));
            bucket.refill(now);
            let wait = bucket.wait_for(f64::from(*amount));
            if wait > 0.0 && refusal.as_ref().is_none_or(|(w, _, _)| wait > *w) {
                refusal = Some((wait, information, scope.clone()));
            }
        }
        if let Some((wait, information, scope)) = refusal {
            return Err(Refusal {
                // Whole seconds, rounded up: a client that waits as told passes.
                retry_after_seconds: (wait.ceil() as u64).max(1),
                scope,
                information,
            });
        }
        let mut used = 0.0;
        for (key, amount, ..) in &wanted {
            if let Some(bucket) = buckets.get_mut(key) {
                bucket.tokens -= f64::from(*amount);
                if matches!(key, Key::AppTenantUnits(..)) {
                    used = 1.0 - bucket.tokens / bucket.capacity;
                }
            }
        }
        Ok(Admitted {
            units: cost.units,
            used,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A clock the test moves.
    fn clock() -> (crate::SandboxClock, Arc<Mutex<jiff::Timestamp>>) {
        let now = Arc::new(Mutex::new("2026-12-01T09:00:00Z".parse().unwrap()));
        let read = now.clone();
        (Arc::new(move || *read.lock().unwrap()), now)
    }

    fn advance(now: &Mutex<jiff::Timestamp>, seconds: i64) {
        let mut t = now.lock().unwrap();
        *t = t
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .unwrap();
    }

    const WRITE: Cost = Cost {
        units: 1,
        writes: 1,
    };

    #[test]
    fn costs_follow_the_documented_table() {
        let get = Method::GET;
        assert_eq!(Cost::of(&get, "/users", None).units, 2);
        assert_eq!(Cost::of(&get, "/users", Some("$select=id&$top=5")).units, 1);
        assert_eq!(Cost::of(&get, "/users", Some("%24expand=manager")).units, 3);
        assert_eq!(Cost::of(&get, "/subscribedSkus", None).units, 3);
        assert_eq!(Cost::of(&get, "/users/u1/memberOf", None).units, 2);
        assert_eq!(
            Cost::of(&get, "/users/u1", Some("$select=id")).units,
            1,
            "never under 1"
        );
        assert_eq!(Cost::of(&Method::PATCH, "/users/u1", None), WRITE);
        assert_eq!(
            Cost::of(&Method::DELETE, "/groups/g/members/u/$ref", None),
            WRITE
        );
    }

    #[test]
    fn writes_beyond_the_app_tenant_quota_wait_for_the_bucket_to_refill() {
        let (clock, now) = clock();
        let throttle = Throttle::new(ThrottleSettings::default(), clock);
        for _ in 0..3_000 {
            throttle.admit("app", "t1", 0, WRITE).unwrap();
        }
        let refused = throttle.admit("app", "t1", 0, WRITE).unwrap_err();
        assert_eq!(refused.information, "WriteLimitExceeded");
        assert_eq!(refused.scope, "Tenant_Application/ReadWrite/app/t1");
        // 3,000 per 150 s refill at 20 a second: one write in 1 s.
        assert_eq!(refused.retry_after_seconds, 1);
        // Another tenant of the same app has its own bucket.
        throttle.admit("app", "t2", 0, WRITE).unwrap();
        advance(&now, 1);
        for _ in 0..20 {
            throttle.admit("app", "t1", 0, WRITE).unwrap();
        }
        assert!(throttle.admit("app", "t1", 0, WRITE).is_err());
    }

    #[test]
    fn a_refused_request_takes_nothing_and_units_warn_above_eighty_percent() {
        let (clock, _now) = clock();
        let settings = ThrottleSettings {
            app_tenant_units_per_10s: [10, 10, 10],
            ..ThrottleSettings::default()
        };
        let throttle = Throttle::new(settings, clock);
        let read = Cost {
            units: 3,
            writes: 0,
        };
        assert!(
            throttle
                .admit("a", "t", 0, read)
                .unwrap()
                .limit_percentage()
                .is_none()
        );
        assert!(
            throttle
                .admit("a", "t", 0, read)
                .unwrap()
                .limit_percentage()
                .is_none()
        );
        let third = throttle.admit("a", "t", 0, read).unwrap();
        assert_eq!(third.limit_percentage().unwrap(), "0.90");
        let refused = throttle.admit("a", "t", 0, read).unwrap_err();
        assert_eq!(refused.information, "ResourceUnitLimitExceeded");
        // 1 unit left, 2 missing at 1 a second.
        assert_eq!(refused.retry_after_seconds, 2);
        // The refusal took nothing: a 1-unit request still passes.
        throttle
            .admit(
                "a",
                "t",
                0,
                Cost {
                    units: 1,
                    writes: 0,
                },
            )
            .unwrap();
    }

    #[test]
    fn the_tenant_quota_spans_apps_and_off_counts_nothing() {
        let (clock, _now) = clock();
        let settings = ThrottleSettings {
            tenant_writes_per_300s: 2,
            ..ThrottleSettings::default()
        };
        let throttle = Throttle::new(settings.clone(), clock.clone());
        throttle.admit("a", "t", 0, WRITE).unwrap();
        throttle.admit("b", "t", 0, WRITE).unwrap();
        let refused = throttle.admit("c", "t", 0, WRITE).unwrap_err();
        assert_eq!(refused.scope, "Tenant/ReadWrite/t");
        assert_eq!(refused.retry_after_seconds, 150);

        let off = Throttle::new(
            ThrottleSettings {
                enabled: false,
                ..settings
            },
            clock,
        );
        for _ in 0..10 {
            off.admit("a", "t", 0, WRITE).unwrap();
        }
    }

    #[test]
    fn tenants_are_sized_by_their_users() {
        assert_eq!(size_class(3), 0);
        assert_eq!(size_class(50), 1);
        assert_eq!(size_class(501), 2);
    }
}
