//! Proves the money, id and rate rules: amounts are parsed the way clerks type them, never rounded, displayed in 元 and 万元, encoded as decimal strings in JSON and integer fen in bincode; ids refuse personal information; rates round half away from zero.

mod common;

use common::{amount, money, yuan};
use ledger_domain::money::AMOUNT_MAX_FEN;
use ledger_domain::rates::{
    arrival_rate, budget_execution_rate, incurred_loss_ratio, percent_of_counts, portfolio_at_risk,
    repayment_rate, revolving_rounds, simple_loss_ratio, year_on_year_growth,
    year_on_year_growth_of_counts,
};
use ledger_domain::{Amount, AmountError, BeneficiaryId, FundId, Money, TierSplit, UserId};
use ledger_domain::{FundingTier, TierShare, TierSplitError};
use proptest::prelude::*;

fn fen(text: &str) -> i64 {
    Amount::parse(text).expect("parses").fen()
}

fn error_code(text: &str) -> &'static str {
    Amount::parse(text).expect_err("rejected").code()
}

#[test]
fn parses_the_forms_clerks_type() {
    assert_eq!(fen("1234.56"), 123_456);
    assert_eq!(fen("1,234.56"), 123_456);
    assert_eq!(fen("¥1,234.56"), 123_456);
    assert_eq!(fen("￥1,234.56"), 123_456);
    assert_eq!(fen(" 1234.5 "), 123_450);
    assert_eq!(fen("1234"), 123_400);
    assert_eq!(fen("1234.56元"), 123_456);
    assert_eq!(fen("616.8万"), 616_800_000);
    assert_eq!(fen("616.8万元"), 616_800_000);
    assert_eq!(fen("1.32亿"), 13_200_000_000);
    assert_eq!(fen("1.2345万"), 1_234_500);
    assert_eq!(fen("1.234567万"), 1_234_567);
    assert_eq!(fen("0.00000001亿"), 100);
    assert_eq!(fen("0.0000000001亿"), 1);
    assert_eq!(fen("0"), 0);
    assert_eq!(fen("1.230"), 123, "trailing zeros carry no extra precision");
    assert_eq!(fen("12,345,678.90"), 1_234_567_890);
}

#[test]
fn rejects_amounts_that_would_need_rounding() {
    assert_eq!(error_code("0.001"), "amount_too_many_decimals");
    assert_eq!(error_code("1234.567"), "amount_too_many_decimals");
    assert_eq!(error_code("0.0000001万"), "amount_too_many_decimals");
    assert_eq!(error_code("1.2345678万"), "amount_too_many_decimals");
    assert_eq!(error_code("0.00000000001亿"), "amount_too_many_decimals");
}

#[test]
fn rejects_negative_empty_exponent_nan_and_malformed() {
    assert_eq!(error_code("-5"), "amount_negative");
    assert_eq!(error_code("-¥5.00"), "amount_negative");
    assert_eq!(error_code("¥-5.00"), "amount_negative");
    assert_eq!(error_code(""), "amount_empty");
    assert_eq!(error_code("   "), "amount_empty");
    assert_eq!(error_code("1e5"), "amount_exponent");
    assert_eq!(error_code("1.5E3"), "amount_exponent");
    assert_eq!(error_code("NaN"), "amount_malformed");
    assert_eq!(error_code("inf"), "amount_malformed");
    assert_eq!(error_code("12,34.56"), "amount_malformed");
    assert_eq!(error_code("1,2345"), "amount_malformed");
    assert_eq!(error_code(".5"), "amount_malformed");
    assert_eq!(error_code("5."), "amount_malformed");
    assert_eq!(error_code("1.2.3"), "amount_malformed");
    assert_eq!(error_code("+5"), "amount_malformed");
    assert_eq!(error_code("12万万"), "amount_malformed");
    assert_eq!(error_code("one hundred"), "amount_malformed");
}

#[test]
fn rejects_amounts_above_the_named_maximum() {
    assert_eq!(fen("10000000000000"), AMOUNT_MAX_FEN);
    assert_eq!(error_code("10000000000000.01"), "amount_overflow");
    assert_eq!(error_code("100001亿"), "amount_overflow");
    assert_eq!(
        error_code("99999999999999999999999999999999"),
        "amount_overflow"
    );
    assert!(matches!(
        Amount::from_fen(AMOUNT_MAX_FEN + 1),
        Err(AmountError::Overflow { .. })
    ));
    assert!(matches!(
        Amount::from_fen(-1),
        Err(AmountError::Negative { .. })
    ));
    assert_eq!(
        yuan(1).checked_add(Amount::from_fen(AMOUNT_MAX_FEN).unwrap()),
        None
    );
}

#[test]
fn error_messages_name_the_input_and_what_to_do() {
    let e = Amount::parse("0.001").unwrap_err();
    assert_eq!(
        e.to_string(),
        "the amount 0.001 has more than two decimal places of yuan; amounts are never rounded"
    );
    let e = Amount::parse("1e5").unwrap_err();
    assert_eq!(
        e.to_string(),
        "the amount 1e5 uses exponent notation; type the figure in full"
    );
}

#[test]
fn displays_in_yuan_and_wan_yuan() {
    assert_eq!(amount("1234.56").to_string(), "¥1,234.56");
    assert_eq!(amount("1234.56").plain(), "1234.56");
    assert_eq!(amount("0.05").to_string(), "¥0.05");
    assert_eq!(amount("999").to_string(), "¥999.00");
    assert_eq!(amount("1000").to_string(), "¥1,000.00");
    assert_eq!(amount("6168000").to_string(), "¥6,168,000.00");
    assert_eq!(amount("616.8万").wan(), "616.80万元");
    // Rounded half away from zero to two decimals of 万元.
    assert_eq!(amount("6168049.99").wan(), "616.80万元");
    assert_eq!(amount("6168050.00").wan(), "616.81万元");
    assert_eq!(amount("49.99").wan(), "0.00万元");
    assert_eq!(amount("50").wan(), "0.01万元");
    assert_eq!(money("50").negated().wan(), "-0.01万元");
    assert_eq!(money("1234.56").negated().to_string(), "-¥1,234.56");
    assert_eq!(money("1234.56").negated().plain(), "-1234.56");
    assert_eq!(Money::ZERO.negated().to_string(), "¥0.00");
}

#[test]
fn json_uses_decimal_strings_and_refuses_numbers() {
    let a = amount("1,234.5");
    assert_eq!(serde_json::to_string(&a).unwrap(), "\"1234.50\"");
    assert_eq!(
        serde_json::from_str::<Amount>("\"1234.56\"").unwrap(),
        amount("1234.56")
    );
    assert_eq!(serde_json::from_str::<Amount>("\"7\"").unwrap(), yuan(7));
    assert!(
        serde_json::from_str::<Amount>("1234.56").is_err(),
        "a JSON number"
    );
    assert!(
        serde_json::from_str::<Amount>("1234").is_err(),
        "a JSON integer"
    );
    assert!(serde_json::from_str::<Amount>("\"1234.567\"").is_err());
    assert!(serde_json::from_str::<Amount>("\"-1.00\"").is_err());
    assert!(
        serde_json::from_str::<Amount>("\"1,234.56\"").is_err(),
        "stored form is plain"
    );
    assert!(serde_json::from_str::<Amount>("\"1e5\"").is_err());
    assert!(serde_json::from_str::<Amount>("\"\"").is_err());
    let m = money("12.30").negated();
    assert_eq!(serde_json::to_string(&m).unwrap(), "\"-12.30\"");
    assert_eq!(serde_json::from_str::<Money>("\"-12.30\"").unwrap(), m);
}

#[test]
fn bincode_uses_integer_fen() {
    let config = bincode::config::standard().with_fixed_int_encoding();
    let a = amount("1234.56");
    let bytes = bincode::serde::encode_to_vec(a, config).unwrap();
    assert_eq!(bytes, 123_456i64.to_le_bytes().to_vec());
    let (back, _): (Amount, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(back, a);
    let negative = bincode::serde::encode_to_vec(-5i64, config).unwrap();
    assert!(bincode::serde::decode_from_slice::<Amount, _>(&negative, config).is_err());
    let m = money("0.01").negated();
    let bytes = bincode::serde::encode_to_vec(m, config).unwrap();
    let (back, _): (Money, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(back, m);
}

#[test]
fn ids_are_validated_and_refuse_personal_information() {
    assert!(FundId::new("SM-2021-BURSARY").is_ok());
    assert!(FundId::new("").is_err());
    assert!(FundId::new("has space").is_err());
    assert!(FundId::new("-leading").is_err());
    assert!(FundId::new("x".repeat(65)).is_err());
    assert!(FundId::new("资金").is_err());
    // Every byte after the first: ASCII letters, digits, '-', '_' and '.' only.
    for b in 0..=u8::MAX {
        let id = format!("a{}", char::from(b));
        let allowed = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        assert_eq!(FundId::new(&id).is_ok(), allowed, "{id:?}");
    }
    assert!(BeneficiaryId::new("HH-000123").is_ok());
    // An 18-digit resident ID, an 11-digit mobile number and a bank card are refused.
    let id_card = BeneficiaryId::new("35040219800101123X").unwrap_err();
    assert!(id_card.to_string().contains("opaque id"));
    assert!(
        !id_card.to_string().contains("35040219800101123"),
        "the number is withheld"
    );
    assert!(BeneficiaryId::new("13800138000").is_err());
    assert!(BeneficiaryId::new("6222021234567890123").is_err());
    assert!(UserId::new("13800138000").is_err());
    assert!(serde_json::from_str::<BeneficiaryId>("\"13800138000\"").is_err());
    assert_eq!(
        serde_json::to_string(&FundId::new("SM-1").unwrap()).unwrap(),
        "\"SM-1\""
    );
}

#[test]
fn tier_splits_are_validated() {
    assert_eq!(TierSplit::new(vec![]).unwrap_err(), TierSplitError::Empty);
    let duplicate = TierSplit::of(&[(FundingTier::City, yuan(1)), (FundingTier::City, yuan(2))]);
    assert_eq!(
        duplicate.unwrap_err(),
        TierSplitError::DuplicateTier(FundingTier::City)
    );
    let zero = TierSplit::of(&[(FundingTier::City, Amount::ZERO)]);
    assert_eq!(
        zero.unwrap_err(),
        TierSplitError::ZeroShare(FundingTier::City)
    );
    // Deserialisation applies the same rules.
    let json = r#"[{"tier":"City","amount":"1.00"},{"tier":"City","amount":"2.00"}]"#;
    assert!(serde_json::from_str::<TierSplit>(json).is_err());
    let ok = TierSplit::of(&[
        (FundingTier::County, yuan(2)),
        (FundingTier::Province, yuan(1)),
    ])
    .unwrap();
    assert_eq!(ok.shares()[0].tier, FundingTier::Province, "sorted by tier");
    assert_eq!(ok.total(), yuan(3).to_money());
    assert_eq!(
        ok.shares()[1],
        TierShare {
            tier: FundingTier::County,
            amount: yuan(2)
        }
    );
}

/// A list's claimed length is not trusted: a stored split that claims more shares
/// than its bytes hold is an error, never an allocation of that size (the fuzz target
/// `record_decoder` found this), and a list longer than there are tiers is refused as
/// holding some tier twice.
#[test]
fn a_tier_split_claiming_a_huge_length_is_an_error() {
    let config = bincode::config::standard().with_fixed_int_encoding();
    let share = |tier| TierShare {
        tier,
        amount: yuan(1),
    };
    let shares = [share(FundingTier::City), share(FundingTier::County)];
    let mut bytes = (1u64 << 60).to_le_bytes().to_vec();
    for s in &shares {
        bytes.extend(bincode::serde::encode_to_vec(s, config).unwrap());
    }
    assert!(bincode::serde::decode_from_slice::<TierSplit, _>(&bytes, config).is_err());
    let long: Vec<TierShare> = FundingTier::ALL
        .iter()
        .chain(FundingTier::ALL.iter())
        .map(|&tier| share(tier))
        .collect();
    let bytes = bincode::serde::encode_to_vec(&long, config).unwrap();
    let error = bincode::serde::decode_from_slice::<TierSplit, _>(&bytes, config).unwrap_err();
    assert!(
        error.to_string().contains("appears more than once"),
        "{error}"
    );
}

#[test]
fn rates_round_half_away_from_zero_and_are_undefined_on_zero() {
    assert_eq!(
        simple_loss_ratio(money("7070500.92"), money("9668400"))
            .unwrap()
            .to_string(),
        "73.13%"
    );
    assert_eq!(
        year_on_year_growth(money("9668400"), money("8475848.16"))
            .unwrap()
            .to_string(),
        "14.07%"
    );
    assert_eq!(
        simple_loss_ratio(money("3784300"), money("3127520"))
            .unwrap()
            .to_string(),
        "121.00%"
    );
    assert_eq!(simple_loss_ratio(money("1"), Money::ZERO), None);
    assert_eq!(
        incurred_loss_ratio(money("70"), money("10"), money("100"))
            .unwrap()
            .to_string(),
        "80.00%"
    );
    // 1/8 = 12.5% exactly; 1/800 = 0.125% rounds away from zero to 0.13%.
    assert_eq!(percent_of_counts(1, 800).unwrap().to_string(), "0.13%");
    assert_eq!(percent_of_counts(-1, 800).unwrap().to_string(), "-0.13%");
    assert_eq!(percent_of_counts(1, 3).unwrap().to_string(), "33.33%");
    assert_eq!(percent_of_counts(2, 3).unwrap().to_string(), "66.67%");
    assert_eq!(
        year_on_year_growth(money("90"), money("100"))
            .unwrap()
            .to_string(),
        "-10.00%"
    );
    assert_eq!(
        year_on_year_growth_of_counts(120, 100).unwrap().to_string(),
        "20.00%"
    );
    assert_eq!(year_on_year_growth_of_counts(1, 0), None);
    assert_eq!(
        budget_execution_rate(money("50"), money("200"))
            .unwrap()
            .to_string(),
        "25.00%"
    );
    assert_eq!(
        arrival_rate(money("2"), money("3")).unwrap().to_string(),
        "66.67%"
    );
    assert_eq!(repayment_rate(money("0"), money("0")), None);
    assert_eq!(
        portfolio_at_risk(money("1"), money("7"))
            .unwrap()
            .to_string(),
        "14.29%"
    );
    let rounds = revolving_rounds(money("299.99"), money("100")).unwrap();
    assert_eq!(rounds.to_string(), "2.99", "truncated, not rounded");
    assert_eq!(revolving_rounds(money("1"), Money::ZERO), None);
    assert_eq!(
        simple_loss_ratio(money("7070500.92"), money("9668400"))
            .unwrap()
            .basis_points(),
        7313
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A split is stored and sent as the list of its shares. Read back from a list in
    /// either encoding it is what `TierSplit::new` makes of that list, or its error;
    /// a split of one share (held inline) and one of several (on the heap) alike.
    #[test]
    fn tier_splits_read_from_a_list_are_what_new_makes_of_it(
        pairs in proptest::collection::vec((0..FundingTier::ALL.len(), 0i64..4), 0..5)
    ) {
        let list: Vec<TierShare> = pairs
            .iter()
            .map(|&(t, f)| TierShare {
                tier: FundingTier::ALL[t],
                amount: Amount::from_fen(f).unwrap(),
            })
            .collect();
        let made = TierSplit::new(list.clone());
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&list, config).unwrap();
        let read = bincode::serde::decode_from_slice::<TierSplit, _>(&bytes, config)
            .map(|(split, _)| split);
        let from_json = serde_json::from_str::<TierSplit>(&serde_json::to_string(&list).unwrap());
        match &made {
            Ok(split) => {
                prop_assert_eq!(read.as_ref().ok(), Some(split));
                prop_assert_eq!(from_json.as_ref().ok(), Some(split));
                // Written as the sorted list of its shares, in both encodings.
                let sorted = Vec::from(split.clone());
                prop_assert_eq!(split.shares(), &sorted[..]);
                prop_assert_eq!(
                    bincode::serde::encode_to_vec(split, config).unwrap(),
                    bincode::serde::encode_to_vec(&sorted, config).unwrap()
                );
                prop_assert_eq!(
                    serde_json::to_string(split).unwrap(),
                    serde_json::to_string(&sorted).unwrap()
                );
                // Splits of equal shares are equal, however they were made.
                for share in split.shares() {
                    let others: Vec<TierShare> =
                        sorted.iter().copied().filter(|s| s.tier != share.tier).collect();
                    let expected = (!others.is_empty()).then(|| TierSplit::new(others).unwrap());
                    prop_assert_eq!(split.without(share.tier), expected);
                }
                if let [one] = sorted[..] {
                    prop_assert_eq!(split, &TierSplit::single(one.tier, one.amount).unwrap());
                }
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(read.is_err());
                let json_error = from_json.unwrap_err().to_string();
                prop_assert!(json_error.contains(&message), "{} lacks {}", json_error, message);
            }
        }
    }

    /// Display, plain text and both serde encodings round-trip every amount.
    #[test]
    fn amounts_round_trip(f in 0i64..=AMOUNT_MAX_FEN) {
        let a = Amount::from_fen(f).unwrap();
        prop_assert_eq!(Amount::parse(&a.to_string()).unwrap(), a);
        prop_assert_eq!(Amount::parse(&a.plain()).unwrap(), a);
        prop_assert_eq!(Amount::parse_plain(&a.plain()).unwrap(), a);
        let json = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), a);
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(a, config).unwrap();
        let (back, _): (Amount, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
        prop_assert_eq!(back, a);
    }

    /// 万 input is exact: n fen typed as 万 with six decimals parses back to n fen.
    #[test]
    fn wan_input_is_exact(f in 0i64..=1_000_000_000_000i64) {
        let text = format!("{}.{:06}万", f / 1_000_000, f % 1_000_000);
        prop_assert_eq!(Amount::parse(&text).unwrap().fen(), f);
    }
}
