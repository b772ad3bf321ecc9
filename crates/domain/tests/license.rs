//! The license decision over every combination of its inputs.

use std::collections::BTreeMap;

use onboard_domain::license::LicenseGroups;
use onboard_domain::license::{
    Assignment, DirectBecause, LicenseAction, LicenseAssignmentMethod, LicenseInputs, LicensePlan,
    LicensePurchaseChoice, ManualPurchaseReason, SkuPartNumber, decide_licenses,
};
use proptest::prelude::*;

fn sku(s: &str) -> SkuPartNumber {
    s.parse().expect("sku")
}

/// What the rules say one SKU must get, stated as the reference states them.
fn check_item(
    item_action: &LicenseAction,
    free: u32,
    method: LicenseAssignmentMethod,
    group: Option<&str>,
    auto: bool,
    choice: Option<LicensePurchaseChoice>,
    mapped: bool,
) -> Result<(), String> {
    let expected_assignment = match (method, group) {
        (LicenseAssignmentMethod::Direct, _) => Assignment::Direct {
            because: DirectBecause::MethodIsDirect,
        },
        (LicenseAssignmentMethod::Group, None) => Assignment::Direct {
            because: DirectBecause::NoGroupForSku,
        },
        (LicenseAssignmentMethod::Group, Some(g)) => Assignment::Group {
            group: g.to_owned(),
        },
    };
    let form_says_manual = choice == Some(LicensePurchaseChoice::Manual);
    let ok = match item_action {
        LicenseAction::Assign { assignment } => free > 0 && *assignment == expected_assignment,
        LicenseAction::AutoPurchase { then } => {
            free == 0 && !form_says_manual && auto && mapped && *then == expected_assignment
        }
        LicenseAction::ManualPurchase { reason, then } => {
            free == 0
                && *then == expected_assignment
                && match reason {
                    ManualPurchaseReason::ChosenInForm => form_says_manual,
                    ManualPurchaseReason::AutoPurchaseDisabled => !form_says_manual && !auto,
                    ManualPurchaseReason::NoDistributorMapped => {
                        !form_says_manual && auto && !mapped
                    }
                    // Only `name_distributor_without_api` gives this reason.
                    ManualPurchaseReason::NoDistributorApi(_) => false,
                }
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "free={free} method={method} group={group:?} auto={auto} choice={choice:?} mapped={mapped} -> {item_action:?}"
        ))
    }
}

const CHOICES: [Option<LicensePurchaseChoice>; 3] = [
    None,
    Some(LicensePurchaseChoice::Auto),
    Some(LicensePurchaseChoice::Manual),
];

#[test]
fn every_combination_of_inputs_for_one_sku_gets_the_right_action() {
    let spb = sku("SPB");
    let mut combinations = 0;
    for free in [None, Some(0), Some(1), Some(25)] {
        for method in LicenseAssignmentMethod::ALL.iter().copied() {
            for group in [None, Some("License - Business Premium")] {
                for auto in [false, true] {
                    for choice in CHOICES {
                        for mapped in [false, true] {
                            let free_seats: BTreeMap<_, _> =
                                free.map(|n| (spb.clone(), n)).into_iter().collect();
                            let groups = LicenseGroups(
                                group
                                    .map(|g| (spb.clone(), g.to_owned()))
                                    .into_iter()
                                    .collect(),
                            );
                            let plan = decide_licenses(&LicenseInputs {
                                requested: std::slice::from_ref(&spb),
                                free_seats: &free_seats,
                                method,
                                groups: &groups,
                                auto_purchase_enabled: auto,
                                purchase_choice: choice,
                                distributor_mapped: mapped,
                            });
                            let [item] = plan.items() else {
                                panic!("one item: {plan:?}")
                            };
                            assert_eq!(item.sku, spb);
                            assert_eq!(item.free_seats, free.unwrap_or(0));
                            check_item(
                                &item.action,
                                free.unwrap_or(0),
                                method,
                                group,
                                auto,
                                choice,
                                mapped,
                            )
                            .unwrap_or_else(|e| panic!("{e}"));
                            combinations += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(combinations, 4 * 2 * 2 * 2 * 3 * 2);
}

#[test]
fn no_requested_license_means_nothing_to_do() {
    let plan = decide_licenses(&LicenseInputs {
        requested: &[],
        free_seats: &BTreeMap::new(),
        method: LicenseAssignmentMethod::Direct,
        groups: &LicenseGroups::default(),
        auto_purchase_enabled: true,
        purchase_choice: Some(LicensePurchaseChoice::Manual),
        distributor_mapped: true,
    });
    assert_eq!(plan, LicensePlan::NoneRequested);
    assert!(!plan.needs_technician());
}

#[test]
fn the_three_manual_triggers_of_the_reference() {
    let requested = [sku("O365_BUSINESS_PREMIUM")];
    let none_free = BTreeMap::from([(sku("O365_BUSINESS_PREMIUM"), 0)]);
    let decide = |auto, choice, mapped| {
        let plan = decide_licenses(&LicenseInputs {
            requested: &requested,
            free_seats: &none_free,
            method: LicenseAssignmentMethod::Direct,
            groups: &LicenseGroups::default(),
            auto_purchase_enabled: auto,
            purchase_choice: choice,
            distributor_mapped: mapped,
        });
        plan.items()[0].action.clone()
    };
    let manual = |reason| LicenseAction::ManualPurchase {
        reason,
        then: Assignment::Direct {
            because: DirectBecause::MethodIsDirect,
        },
    };
    // Not mapped to a distributor.
    assert_eq!(
        decide(true, None, false),
        manual(ManualPurchaseReason::NoDistributorMapped)
    );
    // The form chose manual purchase, even with everything set for auto-purchase.
    assert_eq!(
        decide(true, Some(LicensePurchaseChoice::Manual), true),
        manual(ManualPurchaseReason::ChosenInForm)
    );
    // Auto-purchase turned off; a form's `auto` does not override the organization.
    assert_eq!(
        decide(false, Some(LicensePurchaseChoice::Auto), true),
        manual(ManualPurchaseReason::AutoPurchaseDisabled)
    );
    // Otherwise: buy through the distributor.
    assert_eq!(
        decide(true, Some(LicensePurchaseChoice::Auto), true),
        LicenseAction::AutoPurchase {
            then: Assignment::Direct {
                because: DirectBecause::MethodIsDirect
            }
        }
    );
}

#[test]
fn a_repeated_sku_is_decided_once() {
    let a = sku("SPB");
    let plan = decide_licenses(&LicenseInputs {
        requested: &[a.clone(), a.clone()],
        free_seats: &BTreeMap::from([(a.clone(), 1)]),
        method: LicenseAssignmentMethod::Direct,
        groups: &LicenseGroups::default(),
        auto_purchase_enabled: true,
        purchase_choice: None,
        distributor_mapped: true,
    });
    assert_eq!(plan.items().len(), 1);
}

#[test]
fn sku_part_numbers_are_upper_case_identifiers() {
    assert_eq!(
        sku(" o365_business_premium ").as_str(),
        "O365_BUSINESS_PREMIUM"
    );
    for bad in ["", "Business Premium", "SPB;DROP", &"A".repeat(65)] {
        assert!(bad.parse::<SkuPartNumber>().is_err(), "{bad}");
    }
}

fn any_sku() -> impl Strategy<Value = SkuPartNumber> {
    proptest::sample::select(vec![
        "SPB",
        "O365_BUSINESS_PREMIUM",
        "O365_BUSINESS_ESSENTIALS",
        "ENTERPRISEPACK",
        "EMS",
        "VISIOCLIENT",
    ])
    .prop_map(sku)
}

proptest! {
    #[test]
    fn the_decision_covers_every_combination_of_its_inputs(
        requested in proptest::collection::vec(any_sku(), 0..6),
        free_seats in proptest::collection::btree_map(any_sku(), 0u32..3, 0..6),
        group_skus in proptest::collection::btree_set(any_sku(), 0..6),
        group_method in any::<bool>(),
        auto in any::<bool>(),
        choice in proptest::sample::select(CHOICES.to_vec()),
        mapped in any::<bool>(),
    ) {
        let method = if group_method { LicenseAssignmentMethod::Group } else { LicenseAssignmentMethod::Direct };
        let groups = LicenseGroups(group_skus.iter().map(|s| (s.clone(), format!("License - {s}"))).collect());
        let plan = decide_licenses(&LicenseInputs {
            requested: &requested,
            free_seats: &free_seats,
            method,
            groups: &groups,
            auto_purchase_enabled: auto,
            purchase_choice: choice,
            distributor_mapped: mapped,
        });
        if requested.is_empty() {
            prop_assert_eq!(plan, LicensePlan::NoneRequested);
        } else {
            // Every distinct requested SKU once, in request order.
            let mut distinct: Vec<&SkuPartNumber> = Vec::new();
            for s in &requested {
                if !distinct.contains(&s) {
                    distinct.push(s);
                }
            }
            let planned: Vec<&SkuPartNumber> = plan.items().iter().map(|i| &i.sku).collect();
            prop_assert_eq!(planned, distinct);
            for item in plan.items() {
                let free = free_seats.get(&item.sku).copied().unwrap_or(0);
                prop_assert_eq!(item.free_seats, free);
                let group = groups.group_for(&item.sku);
                if let Err(e) = check_item(&item.action, free, method, group, auto, choice, mapped) {
                    prop_assert!(false, "{}", e);
                }
            }
            prop_assert_eq!(
                plan.needs_technician(),
                plan.items().iter().any(|i| matches!(i.action, LicenseAction::ManualPurchase { .. }))
            );
        }
    }
}
