//! Users, roles, scopes and tokens: who may record what, where.

mod common;

use common::*;
use ledger_domain::{
    authorize, BeneficiaryKind, Command, FundingTier, GrantModality, GrantPayment, Programme,
    Rejection, Role, State, TokenDigest, TokenError, UnitLevel,
};

fn digest(byte: u8) -> TokenDigest {
    TokenDigest([byte; 32])
}

fn register(l: &mut Ledger, id: &str, role: Role, scope: Option<&str>) {
    l.run_as(
        "admin",
        day(2021, 3, 1),
        Command::RegisterUser {
            user: user(id),
            role,
            scope: scope.map(unit),
        },
    )
    .unwrap_or_else(|r| panic!("register {id}: {r}"));
}

/// Fujian with two counties (Shaxian in Sanming, and Siming in Xiamen), a grant fund
/// in each, and one user of every role.
fn ledger() -> Ledger {
    let mut l = Ledger::new().with_units();
    l.register_unit("FJ-XM-SM", UnitLevel::County, Some("FJ-XM"));
    for (id, county) in [("HP-SX", "FJ-SM-SX"), ("HP-XM", "FJ-XM-SM")] {
        l.open_fund(id, county, Programme::HappinessProject, None);
        l.fund_cash(id, FundingTier::County, yuan(100_000));
    }
    l.register_beneficiary("b-1", "FJ-SM-SX-01-01", BeneficiaryKind::Person);
    l.register_beneficiary("b-2", "FJ-XM-SM", BeneficiaryKind::Person);
    register(&mut l, "admin", Role::Admin, None);
    register(&mut l, "clerk-sx", Role::Clerk, Some("FJ-SM-SX"));
    register(&mut l, "approver-sx", Role::Approver, Some("FJ-SM-SX"));
    register(&mut l, "manager-sm", Role::Manager, Some("FJ-SM"));
    register(&mut l, "auditor", Role::Auditor, None);
    l
}

fn grant(fund_id: &str, who: &str) -> Command {
    Command::PayGrant(GrantPayment {
        fund: fund(fund_id),
        beneficiary: person(who),
        modality: GrantModality::Relief,
        batch: None,
        amount: yuan(1_000),
        shares: one_tier(FundingTier::County, yuan(1_000)),
    })
}

#[test]
fn a_clerk_records_within_their_county_and_not_in_another() {
    let l = ledger();
    assert_eq!(
        authorize(&l.state, &user("clerk-sx"), &grant("HP-SX", "b-1")),
        Ok(())
    );
    let refused = authorize(&l.state, &user("clerk-sx"), &grant("HP-XM", "b-2"))
        .expect_err("another county's fund");
    assert_eq!(refused.code(), "out_of_scope");
    assert!(refused.to_string().contains("FJ-XM-SM"), "{refused}");
}

#[test]
fn readers_never_write_and_admins_record_no_payments() {
    let l = ledger();
    for reader in ["auditor", "manager-sm", "admin", "approver-sx"] {
        let refused = authorize(&l.state, &user(reader), &grant("HP-SX", "b-1"))
            .expect_err("only clerks record payments");
        assert_eq!(refused.code(), "not_permitted", "{reader}: {refused}");
    }
}

#[test]
fn unknown_and_disabled_users_are_refused() {
    let mut l = ledger();
    let refused = authorize(&l.state, &user("stranger"), &grant("HP-SX", "b-1")).unwrap_err();
    assert_eq!(refused.code(), "unknown_user");
    l.run_as(
        "admin",
        day(2021, 3, 2),
        Command::DisableUser {
            user: user("clerk-sx"),
            reason: "left the office".into(),
        },
    )
    .expect("disable");
    let refused = authorize(&l.state, &user("clerk-sx"), &grant("HP-SX", "b-1")).unwrap_err();
    assert_eq!(refused.code(), "user_disabled");
}

#[test]
fn a_county_admin_manages_only_their_subtree() {
    let mut l = ledger();
    register(&mut l, "admin-sx", Role::Admin, Some("FJ-SM-SX"));
    let inside = Command::RegisterUser {
        user: user("clerk-2"),
        role: Role::Clerk,
        scope: Some(unit("FJ-SM-SX-01")),
    };
    assert_eq!(authorize(&l.state, &user("admin-sx"), &inside), Ok(()));
    let elsewhere = Command::RegisterUser {
        user: user("clerk-3"),
        role: Role::Clerk,
        scope: Some(unit("FJ-XM")),
    };
    assert_eq!(
        authorize(&l.state, &user("admin-sx"), &elsewhere)
            .unwrap_err()
            .code(),
        "out_of_scope"
    );
    let auditor = Command::RegisterUser {
        user: user("auditor-2"),
        role: Role::Auditor,
        scope: None,
    };
    assert_eq!(
        authorize(&l.state, &user("admin-sx"), &auditor)
            .unwrap_err()
            .code(),
        "out_of_scope",
        "a county admin cannot grant the whole ledger"
    );
}

#[test]
fn roles_and_scopes_must_fit() {
    let mut l = ledger();
    let at = day(2021, 3, 2);
    let no_scope = l.rejects_as(
        "admin",
        at,
        Command::RegisterUser {
            user: user("clerk-9"),
            role: Role::Clerk,
            scope: None,
        },
    );
    assert_eq!(no_scope, Rejection::ScopeRequired { role: Role::Clerk });
    let scoped_auditor = l.rejects_as(
        "admin",
        at,
        Command::RegisterUser {
            user: user("auditor-9"),
            role: Role::Auditor,
            scope: Some(unit("FJ")),
        },
    );
    assert_eq!(scoped_auditor.code(), "scope_not_applicable");
    let unknown_unit = l.rejects_as(
        "admin",
        at,
        Command::RegisterUser {
            user: user("clerk-9"),
            role: Role::Clerk,
            scope: Some(unit("NOWHERE")),
        },
    );
    assert_eq!(unknown_unit.code(), "unknown_unit");
    let twice = l.rejects_as(
        "admin",
        at,
        Command::RegisterUser {
            user: user("clerk-sx"),
            role: Role::Clerk,
            scope: Some(unit("FJ-SM-SX")),
        },
    );
    assert_eq!(twice.code(), "user_exists");
}

#[test]
fn the_last_admin_of_the_whole_ledger_cannot_be_disabled_or_demoted() {
    let mut l = ledger();
    let at = day(2021, 3, 2);
    let disable = Command::DisableUser {
        user: user("admin"),
        reason: "mistake".into(),
    };
    assert_eq!(
        l.rejects_as("admin", at, disable.clone()).code(),
        "last_admin"
    );
    let demote = Command::ChangeUserRole {
        user: user("admin"),
        role: Role::Manager,
        scope: Some(unit("FJ")),
    };
    assert_eq!(l.rejects_as("admin", at, demote).code(), "last_admin");
    register(&mut l, "admin-2", Role::Admin, None);
    l.run_as("admin-2", at, disable)
        .expect("another admin remains");
}

#[test]
fn tokens_sign_in_until_revoked_expired_or_their_user_is_disabled() {
    let mut l = ledger();
    let at = day(2021, 3, 2);
    l.run_as(
        "admin",
        at,
        Command::IssueToken {
            token: digest(1),
            user: user("clerk-sx"),
            expires_on: Some(day(2021, 12, 31)),
        },
    )
    .expect("issue");
    let access = l.state.access();
    let (who, u) = access.sign_in(&digest(1), day(2021, 6, 1)).expect("valid");
    assert_eq!((who.as_str(), u.role()), ("clerk-sx", Role::Clerk));
    assert_eq!(
        access.sign_in(&digest(2), day(2021, 6, 1)),
        Err(TokenError::Unknown)
    );
    assert!(matches!(
        access.sign_in(&digest(1), day(2022, 1, 1)),
        Err(TokenError::Expired { .. })
    ));
    let reused = l.rejects_as(
        "admin",
        at,
        Command::IssueToken {
            token: digest(1),
            user: user("auditor"),
            expires_on: None,
        },
    );
    assert_eq!(reused.code(), "token_exists");
    let past = l.rejects_as(
        "admin",
        at,
        Command::IssueToken {
            token: digest(3),
            user: user("auditor"),
            expires_on: Some(day(2021, 3, 1)),
        },
    );
    assert_eq!(past.code(), "token_expiry_invalid");
    l.run_as(
        "admin",
        at,
        Command::RevokeToken {
            token: digest(1),
            reason: "lost laptop".into(),
        },
    )
    .expect("revoke");
    assert!(matches!(
        l.state.access().sign_in(&digest(1), day(2021, 6, 1)),
        Err(TokenError::Revoked(_))
    ));
    let again = l.rejects_as(
        "admin",
        at,
        Command::RevokeToken {
            token: digest(1),
            reason: "again".into(),
        },
    );
    assert_eq!(again.code(), "token_already_revoked");
}

#[test]
fn token_digests_read_and_write_as_hex() {
    let d: TokenDigest = "00ff".repeat(16).parse().expect("64 hex digits");
    assert_eq!(d.to_hex(), "00ff".repeat(16));
    assert_eq!(
        serde_json::to_string(&d).expect("json"),
        format!("\"{}\"", "00ff".repeat(16))
    );
    assert!("abc".parse::<TokenDigest>().is_err());
    assert!("zz".repeat(32).parse::<TokenDigest>().is_err());
}

#[test]
fn access_events_survive_a_state_round_trip() {
    let l = ledger();
    let json = serde_json::to_string(&l.state).expect("serialise");
    let back: State = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, l.state);
}

fn read_data(who: &str, purpose: &str) -> Command {
    Command::RecordPersonalDataAccess {
        beneficiary: person(who),
        action: ledger_domain::PersonalDataAction::Read,
        purpose: purpose.into(),
    }
}

fn as_admin(l: &mut Ledger, command: Command) -> Result<Vec<u64>, Rejection> {
    l.run_as("admin", day(2021, 4, 1), command)
}

#[test]
fn personal_information_needs_its_own_permission_within_scope() {
    let mut l = ledger();
    // No role reads personal information without the permission, not even an admin.
    for who in ["clerk-sx", "auditor", "admin", "manager-sm"] {
        let refused =
            authorize(&l.state, &user(who), &read_data("b-1", "核对")).expect_err("not granted");
        assert_eq!(refused.code(), "personal_data_not_permitted", "{who}");
    }
    for who in ["clerk-sx", "auditor"] {
        as_admin(
            &mut l,
            Command::GrantPersonalDataAccess {
                user: user(who),
                reason: "发放核对".into(),
            },
        )
        .unwrap();
    }
    let twice = as_admin(
        &mut l,
        Command::GrantPersonalDataAccess {
            user: user("clerk-sx"),
            reason: "again".into(),
        },
    )
    .unwrap_err();
    assert_eq!(twice.code(), "personal_data_access_already_granted");
    assert_eq!(
        authorize(&l.state, &user("clerk-sx"), &read_data("b-1", "核对")),
        Ok(())
    );
    // Scope still applies: b-2 lives in Xiamen.
    let outside = authorize(&l.state, &user("clerk-sx"), &read_data("b-2", "核对")).unwrap_err();
    assert_eq!(outside.code(), "out_of_scope");
    assert_eq!(
        authorize(&l.state, &user("auditor"), &read_data("b-2", "审计")),
        Ok(())
    );
    // Only admins grant it; a role change keeps it; withdrawal ends it.
    let by_clerk = authorize(
        &l.state,
        &user("clerk-sx"),
        &Command::GrantPersonalDataAccess {
            user: user("approver-sx"),
            reason: "x".into(),
        },
    )
    .unwrap_err();
    assert_eq!(by_clerk.code(), "not_permitted");
    as_admin(
        &mut l,
        Command::ChangeUserRole {
            user: user("clerk-sx"),
            role: Role::Approver,
            scope: Some(unit("FJ-SM-SX")),
        },
    )
    .unwrap();
    assert_eq!(
        authorize(&l.state, &user("clerk-sx"), &read_data("b-1", "核对")),
        Ok(())
    );
    as_admin(
        &mut l,
        Command::WithdrawPersonalDataAccess {
            user: user("clerk-sx"),
            reason: "调岗".into(),
        },
    )
    .unwrap();
    let withdrawn = authorize(&l.state, &user("clerk-sx"), &read_data("b-1", "核对")).unwrap_err();
    assert_eq!(withdrawn.code(), "personal_data_not_permitted");
    let again = as_admin(
        &mut l,
        Command::WithdrawPersonalDataAccess {
            user: user("clerk-sx"),
            reason: "调岗".into(),
        },
    )
    .unwrap_err();
    assert_eq!(again.code(), "personal_data_access_not_granted");
}

#[test]
fn restricted_and_erased_beneficiaries_are_neither_read_nor_paid() {
    let mut l = ledger();
    as_admin(
        &mut l,
        Command::GrantPersonalDataAccess {
            user: user("auditor"),
            reason: "审计".into(),
        },
    )
    .unwrap();
    let restrict = || Command::RestrictBeneficiary {
        beneficiary: person("b-1"),
        reason: "本人申请".into(),
    };
    // A clerk may not restrict; an admin may.
    let by_clerk = authorize(&l.state, &user("clerk-sx"), &restrict()).unwrap_err();
    assert_eq!(by_clerk.code(), "not_permitted");
    as_admin(&mut l, restrict()).unwrap();
    assert_eq!(
        as_admin(&mut l, restrict()).unwrap_err().code(),
        "beneficiary_already_restricted"
    );
    let paid = l
        .run_as("clerk-sx", day(2021, 4, 2), grant("HP-SX", "b-1"))
        .unwrap_err();
    assert_eq!(paid.code(), "beneficiary_restricted");
    let read = l
        .run_as("auditor", day(2021, 4, 2), read_data("b-1", "审计"))
        .unwrap_err();
    assert_eq!(read.code(), "beneficiary_restricted");
    as_admin(
        &mut l,
        Command::LiftBeneficiaryRestriction {
            beneficiary: person("b-1"),
            reason: "复核完毕".into(),
        },
    )
    .unwrap();
    l.run_as("clerk-sx", day(2021, 4, 3), grant("HP-SX", "b-1"))
        .expect("paid again once lifted");
    l.run_as("auditor", day(2021, 4, 3), read_data("b-1", "审计"))
        .expect("read again once lifted");
    let lift_again = as_admin(
        &mut l,
        Command::LiftBeneficiaryRestriction {
            beneficiary: person("b-1"),
            reason: "x".into(),
        },
    )
    .unwrap_err();
    assert_eq!(lift_again.code(), "beneficiary_not_restricted");

    as_admin(
        &mut l,
        Command::EraseBeneficiary {
            beneficiary: person("b-1"),
            reason: "本人申请删除".into(),
        },
    )
    .unwrap();
    for refused in [
        l.run_as("clerk-sx", day(2021, 4, 4), grant("HP-SX", "b-1")),
        l.run_as("auditor", day(2021, 4, 4), read_data("b-1", "审计")),
        as_admin(&mut l, restrict()),
        as_admin(
            &mut l,
            Command::EraseBeneficiary {
                beneficiary: person("b-1"),
                reason: "again".into(),
            },
        ),
    ] {
        assert_eq!(refused.unwrap_err().code(), "beneficiary_erased");
    }
    assert_eq!(
        l.state.beneficiary(&person("b-1")).unwrap().status(),
        ledger_domain::BeneficiaryStatus::Erased
    );
    // The purpose is required.
    let no_purpose = l
        .run_as("auditor", day(2021, 4, 4), read_data("b-2", ""))
        .unwrap_err();
    assert_eq!(no_purpose.code(), "text_invalid");
}

#[test]
fn a_purpose_or_reason_holding_an_id_or_phone_number_is_refused() {
    let mut l = ledger();
    as_admin(
        &mut l,
        Command::GrantPersonalDataAccess {
            user: user("auditor"),
            reason: "审计".into(),
        },
    )
    .unwrap();
    let refused = l
        .run_as(
            "auditor",
            day(2021, 4, 2),
            read_data("b-1", "核对 13905981234 的来电"),
        )
        .unwrap_err();
    assert_eq!(refused.code(), "personal_digits");
    assert!(refused.to_string().contains("11 digits"), "{refused}");
    let erase = as_admin(
        &mut l,
        Command::EraseBeneficiary {
            beneficiary: person("b-1"),
            reason: "身份证 35042719850312002X 申请".into(),
        },
    )
    .unwrap_err();
    assert_eq!(erase.code(), "personal_digits");
    // Ten digits (a voucher number) are fine.
    l.run_as(
        "auditor",
        day(2021, 4, 2),
        read_data("b-1", "凭证 2021060001"),
    )
    .expect("a voucher number is not personal");
}
