//! The license decision: for each requested SKU, assign, buy, ask a technician, or skip.
//!
//! A pure function of its inputs, so every combination can be (and is) tested.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

named_enum! {
    /// The distributor licenses are bought through.
    pub enum Distributor {
        /// Pax8.
        Pax8 = "pax8",
        /// Sherweb.
        Sherweb = "sherweb",
        /// Ingram Micro.
        IngramMicro = "ingram_micro" | "ingram" | "ingrammicro",
        /// ArrowSphere (`Arrow` in the original).
        Arrow = "arrow" | "arrowsphere",
        /// TD SYNNEX.
        TdSynnex = "td_synnex" | "tdsynnex",
    }
}

/// A SKU part number as Graph's `subscribedSkus` names it (`O365_BUSINESS_PREMIUM`, `SPB`):
/// upper-case ASCII letters, digits and `_`, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SkuPartNumber(String);

impl SkuPartNumber {
    /// The part number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SkuPartNumber {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase();
        if upper.is_empty() || upper.len() > 64 {
            return Err(format!("`{}` is not a sku part number", s.trim()));
        }
        if !upper
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!(
                "`{}` is not a sku part number (letters, digits and `_`, like O365_BUSINESS_PREMIUM)",
                s.trim()
            ));
        }
        Ok(Self(upper))
    }
}

impl<'de> Deserialize<'de> for SkuPartNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for SkuPartNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

named_enum! {
    /// How licenses reach users.
    pub enum LicenseAssignmentMethod {
        /// Assigned to the user directly.
        Direct = "direct",
        /// Granted through membership of a license group.
        Group = "group" | "group_membership" | "license_group",
    }
}

named_enum! {
    /// The form's `license_purchase` choice.
    pub enum LicensePurchaseChoice {
        /// Buy through the distributor if the organization allows it.
        Auto = "auto",
        /// A technician buys it.
        Manual = "manual",
    }
}

/// How a license, once there is a free seat, reaches the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Assignment {
    /// Assign directly.
    Direct {
        /// Why directly.
        because: DirectBecause,
    },
    /// Add the user to the license group.
    Group {
        /// The group's display name.
        group: String,
    },
}

/// Why a license is assigned directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectBecause {
    /// `m365_license_assignment_method` is `direct`.
    MethodIsDirect,
    /// The method is `group` but `license_groups` names no group for this SKU.
    NoGroupForSku,
}

/// Why a technician is asked to buy a license: the three triggers of the manual process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManualPurchaseReason {
    /// The form asked for a manual purchase.
    ChosenInForm,
    /// `auto_purchase_license_if_none_available` is off.
    AutoPurchaseDisabled,
    /// The organization is mapped to no distributor.
    NoDistributorMapped,
    /// The organization is mapped to a distributor Onboard has no API for
    /// (Ingram Micro, ArrowSphere, TD SYNNEX: fact sheet §12).
    NoDistributorApi(Distributor),
}

impl fmt::Display for ManualPurchaseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ChosenInForm => "the request asked for a manual purchase",
            Self::AutoPurchaseDisabled => {
                "automatic license purchase is turned off for the organization"
            }
            Self::NoDistributorMapped => "the organization is not mapped to a license distributor",
            Self::NoDistributorApi(Distributor::IngramMicro) => {
                "Ingram Micro has no public API Onboard can use; buy the seat in the Ingram Micro Cloud Marketplace, then Confirm"
            }
            Self::NoDistributorApi(Distributor::Arrow) => {
                "ArrowSphere has no API Onboard implements; buy the seat in ArrowSphere, then Confirm"
            }
            Self::NoDistributorApi(Distributor::TdSynnex) => {
                "TD SYNNEX has no API Onboard implements; buy the seat in TD SYNNEX StreamOne, then Confirm"
            }
            Self::NoDistributorApi(Distributor::Pax8 | Distributor::Sherweb) => {
                "the organization's distributor is not configured (its connector settings are missing)"
            }
        })
    }
}

/// Whether Onboard has an adapter for `distributor` (Pax8 and Sherweb); the
/// others take the manual purchase path with [`ManualPurchaseReason::NoDistributorApi`].
pub fn distributor_has_api(distributor: Distributor) -> bool {
    matches!(distributor, Distributor::Pax8 | Distributor::Sherweb)
}

/// What to do about one requested SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LicenseAction {
    /// A seat is free: assign it.
    Assign {
        /// Directly or through a group.
        assignment: Assignment,
    },
    /// No seat is free: buy one through the distributor, then assign it.
    AutoPurchase {
        /// How the bought seat is assigned.
        then: Assignment,
    },
    /// No seat is free: ask a technician to buy one (Confirm / Reject links, 24-hour timeout).
    ManualPurchase {
        /// Which trigger of the manual process applies.
        reason: ManualPurchaseReason,
        /// How the seat is assigned once the technician confirms.
        then: Assignment,
    },
}

/// One SKU and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicensePlanItem {
    /// The SKU.
    pub sku: SkuPartNumber,
    /// Free seats seen when deciding (0 when the tenant has no such subscription).
    pub free_seats: u32,
    /// The decision.
    pub action: LicenseAction,
}

/// The license plan of one onboarding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LicensePlan {
    /// The request asked for no license: nothing to do.
    NoneRequested,
    /// One item per requested SKU, in request order.
    Items {
        /// The items.
        items: Vec<LicensePlanItem>,
    },
}

impl LicensePlan {
    /// The items (none when no license was requested).
    pub fn items(&self) -> &[LicensePlanItem] {
        match self {
            Self::NoneRequested => &[],
            Self::Items { items } => items,
        }
    }

    /// Says why a manual purchase is needed when the organization is mapped to
    /// a distributor Onboard has no API for: `NoDistributorMapped` becomes
    /// [`ManualPurchaseReason::NoDistributorApi`] naming it.
    pub fn name_distributor_without_api(mut self, distributor: Option<Distributor>) -> Self {
        let Some(d) = distributor.filter(|d| !distributor_has_api(*d)) else {
            return self;
        };
        if let LicensePlan::Items { items } = &mut self {
            for item in items {
                if let LicenseAction::ManualPurchase { reason, .. } = &mut item.action
                    && *reason == ManualPurchaseReason::NoDistributorMapped
                {
                    *reason = ManualPurchaseReason::NoDistributorApi(d);
                }
            }
        }
        self
    }

    /// Whether a technician must be asked.
    pub fn needs_technician(&self) -> bool {
        self.items()
            .iter()
            .any(|i| matches!(i.action, LicenseAction::ManualPurchase { .. }))
    }
}

/// Everything the license decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct LicenseInputs<'a> {
    /// The SKUs the request asks for (duplicates are decided once).
    pub requested: &'a [SkuPartNumber],
    /// Free seats per SKU in the tenant (`prepaidUnits.enabled - consumedUnits`); a SKU
    /// missing here has none.
    pub free_seats: &'a BTreeMap<SkuPartNumber, u32>,
    /// `m365_license_assignment_method`.
    pub method: LicenseAssignmentMethod,
    /// `license_groups`.
    pub groups: &'a LicenseGroups,
    /// `auto_purchase_license_if_none_available`.
    pub auto_purchase_enabled: bool,
    /// The form's `license_purchase`, when given.
    pub purchase_choice: Option<LicensePurchaseChoice>,
    /// Whether the organization is mapped to a distributor.
    pub distributor_mapped: bool,
}

/// Decides, for every requested SKU, how the user gets it.
///
/// A free seat is assigned (through the SKU's license group when the method is `group`
/// and one is configured). Without a free seat the seat is bought through the
/// distributor, unless one of the manual triggers applies, checked in this order:
/// the form asked for `manual`; auto-purchase is off; no distributor is mapped.
/// A form's `auto` never overrides an organization that turned auto-purchase off.
pub fn decide_licenses(inputs: &LicenseInputs<'_>) -> LicensePlan {
    if inputs.requested.is_empty() {
        return LicensePlan::NoneRequested;
    }
    let mut items: Vec<LicensePlanItem> = Vec::new();
    for sku in inputs.requested {
        if items.iter().any(|i| &i.sku == sku) {
            continue;
        }
        let free_seats = inputs.free_seats.get(sku).copied().unwrap_or(0);
        let assignment = match (inputs.method, inputs.groups.group_for(sku)) {
            (LicenseAssignmentMethod::Group, Some(group)) => Assignment::Group {
                group: group.to_owned(),
            },
            (LicenseAssignmentMethod::Group, None) => Assignment::Direct {
                because: DirectBecause::NoGroupForSku,
            },
            (LicenseAssignmentMethod::Direct, _) => Assignment::Direct {
                because: DirectBecause::MethodIsDirect,
            },
        };
        let manual_reason = if inputs.purchase_choice == Some(LicensePurchaseChoice::Manual) {
            Some(ManualPurchaseReason::ChosenInForm)
        } else if !inputs.auto_purchase_enabled {
            Some(ManualPurchaseReason::AutoPurchaseDisabled)
        } else if !inputs.distributor_mapped {
            Some(ManualPurchaseReason::NoDistributorMapped)
        } else {
            None
        };
        let action = match (free_seats, manual_reason) {
            (1.., _) => LicenseAction::Assign { assignment },
            (0, Some(reason)) => LicenseAction::ManualPurchase {
                reason,
                then: assignment,
            },
            (0, None) => LicenseAction::AutoPurchase { then: assignment },
        };
        items.push(LicensePlanItem {
            sku: sku.clone(),
            free_seats,
            action,
        });
    }
    LicensePlan::Items { items }
}

named_enum! {
    /// How the license part of an onboarding ended, as `GET /api/onboardings/{id}` reports it.
    pub enum LicenseOutcome {
        /// Every license was assigned from free seats.
        Assigned = "assigned",
        /// A seat was bought through the distributor and assigned.
        Purchased = "purchased",
        /// A technician bought the seat by hand and confirmed; it was assigned.
        PurchaseConfirmed = "purchase_confirmed",
        /// A technician rejected the purchase; the user has no license.
        PurchaseRejected = "purchase_rejected",
        /// Nobody answered the purchase request within 24 hours; the user has no license.
        PurchaseTimedOut = "purchase_timed_out",
        /// The request asked for no license.
        NoneRequested = "none_requested",
    }
}

/// The product name Microsoft gives a SKU part number (its "Product names and
/// service plan identifiers for licensing" list), for the common subscriptions an
/// MSP sells; `None` for others, which are then shown by their part number.
/// Graph's `subscribedSkus` carries only the part number.
pub fn product_name(sku_part_number: &str) -> Option<&'static str> {
    const NAMES: &[(&str, &str)] = &[
        ("O365_BUSINESS_ESSENTIALS", "Microsoft 365 Business Basic"),
        ("O365_BUSINESS_PREMIUM", "Microsoft 365 Business Standard"),
        ("SPB", "Microsoft 365 Business Premium"),
        ("O365_BUSINESS", "Microsoft 365 Apps for business"),
        ("OFFICESUBSCRIPTION", "Microsoft 365 Apps for enterprise"),
        ("STANDARDPACK", "Office 365 E1"),
        ("ENTERPRISEPACK", "Office 365 E3"),
        ("ENTERPRISEPREMIUM", "Office 365 E5"),
        ("DESKLESSPACK", "Office 365 F3"),
        ("SPE_E3", "Microsoft 365 E3"),
        ("SPE_E5", "Microsoft 365 E5"),
        ("SPE_F1", "Microsoft 365 F3"),
        ("EXCHANGESTANDARD", "Exchange Online (Plan 1)"),
        ("EXCHANGEENTERPRISE", "Exchange Online (Plan 2)"),
        ("EMS", "Enterprise Mobility + Security E3"),
        ("AAD_PREMIUM", "Microsoft Entra ID P1"),
        ("AAD_PREMIUM_P2", "Microsoft Entra ID P2"),
        ("POWER_BI_PRO", "Power BI Pro"),
        ("VISIOCLIENT", "Visio Plan 2"),
        ("PROJECTPREMIUM", "Project Plan 5"),
    ];
    NAMES
        .iter()
        .find(|(part, _)| part.eq_ignore_ascii_case(sku_part_number.trim()))
        .map(|(_, name)| *name)
}

/// License groups per SKU: `{"SPB": "License - Business Premium"}` or the text
/// `SPB=License - Business Premium; O365_BUSINESS_ESSENTIALS=License - Basic`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct LicenseGroups(pub BTreeMap<SkuPartNumber, String>);

impl LicenseGroups {
    /// The group that grants `sku`, when one is configured.
    pub fn group_for(&self, sku: &SkuPartNumber) -> Option<&str> {
        self.0.get(sku).map(String::as_str)
    }
}

#[cfg(test)]
mod product_name_tests {
    use super::product_name;

    #[test]
    fn common_skus_have_their_product_name_and_others_none() {
        assert_eq!(product_name("SPB"), Some("Microsoft 365 Business Premium"));
        assert_eq!(
            product_name("o365_business_premium"),
            Some("Microsoft 365 Business Standard")
        );
        assert_eq!(product_name("CONTOSO_CUSTOM"), None);
    }
}

#[cfg(test)]
mod distributor_without_api_tests {
    use super::*;

    fn manual_plan() -> LicensePlan {
        LicensePlan::Items {
            items: vec![LicensePlanItem {
                sku: "SPB".parse().unwrap_or_else(|_| unreachable!()),
                free_seats: 0,
                action: LicenseAction::ManualPurchase {
                    reason: ManualPurchaseReason::NoDistributorMapped,
                    then: Assignment::Direct {
                        because: DirectBecause::MethodIsDirect,
                    },
                },
            }],
        }
    }

    fn reason(plan: &LicensePlan) -> ManualPurchaseReason {
        match &plan.items()[0].action {
            LicenseAction::ManualPurchase { reason, .. } => *reason,
            other => unreachable!("{other:?}"),
        }
    }

    #[test]
    fn ingram_micro_takes_the_manual_path_with_the_exact_reason() {
        let plan = manual_plan().name_distributor_without_api(Some(Distributor::IngramMicro));
        assert_eq!(
            reason(&plan).to_string(),
            "Ingram Micro has no public API Onboard can use; buy the seat in the Ingram Micro Cloud Marketplace, then Confirm"
        );
    }

    #[test]
    fn an_implemented_distributor_left_unconfigured_keeps_the_not_mapped_reason() {
        for d in [Distributor::Pax8, Distributor::Sherweb] {
            let plan = manual_plan().name_distributor_without_api(Some(d));
            assert_eq!(reason(&plan), ManualPurchaseReason::NoDistributorMapped);
        }
        let plan = manual_plan().name_distributor_without_api(None);
        assert_eq!(reason(&plan), ManualPurchaseReason::NoDistributorMapped);
    }
}
