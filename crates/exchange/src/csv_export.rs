//! The spreadsheet export: one CSV row per event, headers in Chinese and English,
//! amounts as plain decimal text (`1234.56`: never an exponent, never a float), and no
//! cell a spreadsheet would run as a formula (a memo `=HYPERLINK(…)` is written
//! `'=HYPERLINK(…)`; the JSONL export keeps the exact text).

use std::io::Write;
use std::ops::RangeBounds;

use ledger_domain::{
    Amount, ClaimPayer, Event, FundingTier, Money, Payment, Reversible, TierSplit,
};
use ledger_render::neutralise_formula;
use ledger_store::{Backend, Log};

use crate::{for_each_event, resolve_range, ExchangeError, Exported, Progress};

/// The columns of the CSV export, in order: Chinese, a space, then English. Shared
/// with docs/EXCHANGE.md, which describes each.
pub const CSV_EXPORT_COLUMNS: [&str; 16] = [
    "位置 position",
    "记账时间 recorded_at",
    "业务日期 effective_date",
    "经办人 actor",
    "指令号 command_id",
    "事件 event",
    "资金 fund",
    "受益人 beneficiary",
    "对象 subject",
    "层级 tiers",
    "金额 amount",
    "利息 interest",
    "不含税保费 tax_exclusive",
    "备注 memo",
    "哈希 hash",
    "详情 details",
];

/// The UTF-8 byte order mark, which makes Excel read a CSV file as UTF-8.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Settings of a CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvExportOptions {
    /// Start the file with a UTF-8 byte order mark. On by default: Excel, which most
    /// finance offices open CSV files with, reads a file without one in the system's
    /// legacy code page (GBK on Chinese Windows) and garbles every Chinese character.
    /// Turn it off for programs that do not expect one.
    pub bom: bool,
}

impl Default for CsvExportOptions {
    fn default() -> Self {
        CsvExportOptions { bom: true }
    }
}

/// Writes the events in `range` (positions; `..` is the whole log) as CSV to `out`:
/// a header row of [`CSV_EXPORT_COLUMNS`], then one row per event. Streams page by
/// page; reports `(events written, events in range)` to `progress`. Like
/// [`crate::export_jsonl`], it refuses a record that breaks the chain.
pub fn export_csv<B: Backend>(
    log: &Log<B>,
    range: impl RangeBounds<u64>,
    options: CsvExportOptions,
    out: &mut dyn Write,
    progress: Progress<'_>,
) -> Result<Exported, ExchangeError> {
    let (from, to) = resolve_range(range, log.head().next_position)?;
    let mut out = std::io::BufWriter::new(out);
    if options.bom {
        out.write_all(BOM)?;
    }
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_EXPORT_COLUMNS)?;
    let last_hash = for_each_event(log, from, to, progress, |event| {
        let recorded = &event.recorded;
        let summary = Summary::of(&recorded.event);
        let details = serde_json::to_string(&recorded.event).map_err(std::io::Error::from)?;
        let cells = [
            recorded.position.to_string(),
            recorded
                .recorded_at
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            recorded.effective_date.format("%Y-%m-%d").to_string(),
            recorded.actor.to_string(),
            recorded.command_id.to_string(),
            recorded.event.event_type().to_string(),
            recorded
                .event
                .fund()
                .map(ToString::to_string)
                .unwrap_or_default(),
            summary.beneficiary,
            summary.subject,
            summary.tiers,
            plain(summary.amount),
            plain(summary.interest),
            plain(summary.tax_exclusive),
            event.stored.memo.as_str().to_string(),
            hex::encode(event.raw.hash),
            details,
        ];
        // Only the memo is free text today (ids start with a letter or digit, amounts
        // are positive), but every cell goes through the same check.
        let cells = cells.each_ref().map(|cell| neutralise_formula(cell));
        writer.write_record(cells.iter().map(|cell| cell.as_bytes()))?;
        Ok(())
    })?;
    writer.flush()?;
    Ok(Exported {
        from_position: from,
        to_position: to,
        last_hash,
    })
}

fn plain(amount: Option<Money>) -> String {
    amount.map(Money::plain).unwrap_or_default()
}

/// The export name of a tier: the same words the import accepts.
pub(crate) fn tier_name(tier: FundingTier) -> &'static str {
    match tier {
        FundingTier::Province => "province",
        FundingTier::City => "city",
        FundingTier::County => "county",
        FundingTier::Township => "township",
        FundingTier::Village => "village",
        FundingTier::HouseholdContribution => "household",
        FundingTier::Insurer => "insurer",
        FundingTier::Donation => "donation",
        FundingTier::Interest => "interest",
    }
}

/// `province:600.00;city:400.00`.
fn shares_text(split: &TierSplit) -> String {
    split
        .shares()
        .iter()
        .map(|s| format!("{}:{}", tier_name(s.tier), s.amount.plain()))
        .collect::<Vec<_>>()
        .join(";")
}

/// The columns of a row that depend on the event type; empty where they do not apply.
#[derive(Default)]
struct Summary {
    beneficiary: String,
    /// The loan, award, campaign, unit, request or reversed position it concerns.
    subject: String,
    tiers: String,
    /// The money the event moves or states (always positive; the event type says
    /// which way).
    amount: Option<Money>,
    interest: Option<Money>,
    tax_exclusive: Option<Money>,
}

fn money(amount: Amount) -> Option<Money> {
    Some(amount.to_money())
}

impl Summary {
    fn of(event: &Event) -> Summary {
        let tier = |t: FundingTier| tier_name(t).to_string();
        match event {
            Event::UnitRegistered { unit, .. } | Event::PeriodClosed { unit, .. } => Summary {
                subject: unit.to_string(),
                ..Summary::default()
            },
            Event::FundOpened { .. } => Summary::default(),
            Event::UserRegistered { user, .. }
            | Event::UserRoleChanged { user, .. }
            | Event::UserDisabled { user, .. }
            | Event::TokenIssued { user, .. }
            | Event::TokenRevoked { user, .. }
            | Event::PersonalDataAccessGranted { user, .. }
            | Event::PersonalDataAccessWithdrawn { user, .. } => Summary {
                subject: user.to_string(),
                ..Summary::default()
            },
            Event::PersonalDataAccessed { beneficiary, .. }
            | Event::BeneficiaryRestricted { beneficiary, .. }
            | Event::BeneficiaryRestrictionLifted { beneficiary, .. }
            | Event::BeneficiaryErased { beneficiary, .. } => Summary {
                beneficiary: beneficiary.to_string(),
                ..Summary::default()
            },
            Event::ApprovalThresholdSet { threshold, .. } => Summary {
                amount: threshold.map(Amount::to_money),
                ..Summary::default()
            },
            Event::BeneficiaryRegistered { beneficiary, .. } => Summary {
                beneficiary: beneficiary.to_string(),
                ..Summary::default()
            },
            Event::AppropriationCommitted {
                tier: t, amount, ..
            }
            | Event::AppropriationReceived {
                tier: t, amount, ..
            } => Summary {
                tiers: tier(*t),
                amount: money(*amount),
                ..Summary::default()
            },
            Event::LoanDisbursed(l) => Summary {
                beneficiary: l.beneficiary.to_string(),
                subject: l.loan.to_string(),
                tiers: tier(l.tier),
                amount: money(l.principal),
                ..Summary::default()
            },
            Event::LoanRepaid {
                loan,
                tier: t,
                principal,
                interest,
                ..
            } => Summary {
                subject: loan.to_string(),
                tiers: tier(*t),
                amount: money(*principal),
                interest: money(*interest),
                ..Summary::default()
            },
            Event::LoanRescheduled {
                loan, outstanding, ..
            } => Summary {
                subject: loan.to_string(),
                amount: money(*outstanding),
                ..Summary::default()
            },
            Event::LoanWrittenOff {
                loan,
                tier: t,
                amount,
                ..
            } => Summary {
                subject: loan.to_string(),
                tiers: tier(*t),
                amount: money(*amount),
                ..Summary::default()
            },
            Event::GrantPaid(g) => Summary {
                beneficiary: g.beneficiary.to_string(),
                tiers: shares_text(&g.shares),
                amount: money(g.amount),
                ..Summary::default()
            },
            Event::HousingGrantAwarded {
                award,
                beneficiary,
                amount,
                shares,
                ..
            }
            | Event::HousingInstalmentPaid {
                award,
                beneficiary,
                amount,
                shares,
                ..
            } => Summary {
                beneficiary: beneficiary.to_string(),
                subject: award.to_string(),
                tiers: shares_text(shares),
                amount: money(*amount),
                ..Summary::default()
            },
            Event::FollowUpVisitRecorded {
                award, beneficiary, ..
            } => Summary {
                beneficiary: beneficiary.to_string(),
                subject: award.to_string(),
                ..Summary::default()
            },
            Event::BursaryAwarded {
                award,
                student,
                tier: t,
                amount,
                ..
            }
            | Event::BursaryInstalmentPaid {
                award,
                student,
                tier: t,
                amount,
                ..
            } => Summary {
                beneficiary: student.to_string(),
                subject: award.to_string(),
                tiers: tier(*t),
                amount: money(*amount),
                ..Summary::default()
            },
            Event::CampaignOpened { campaign, .. } => Summary {
                subject: campaign.to_string(),
                ..Summary::default()
            },
            Event::CondolencePaid {
                campaign,
                beneficiary,
                amount,
                shares,
                ..
            } => Summary {
                beneficiary: beneficiary.to_string(),
                subject: campaign.to_string(),
                tiers: shares_text(shares),
                amount: money(*amount),
                ..Summary::default()
            },
            Event::PremiumCollected {
                tax_inclusive,
                tax_exclusive,
                shares,
                ..
            } => Summary {
                tiers: shares_text(shares),
                amount: money(*tax_inclusive),
                tax_exclusive: money(*tax_exclusive),
                ..Summary::default()
            },
            Event::ClaimPaid(c) => Summary {
                beneficiary: c.beneficiary.to_string(),
                tiers: match &c.payer {
                    ClaimPayer::Insurer => tier(FundingTier::Insurer),
                    ClaimPayer::Fund { shares } => shares_text(shares),
                },
                amount: money(c.amount),
                ..Summary::default()
            },
            Event::ClaimsReserveEstimated { amount, .. } => Summary {
                amount: money(*amount),
                ..Summary::default()
            },
            Event::PaymentRequested {
                reserved, payment, ..
            } => Summary {
                beneficiary: payment_beneficiary(payment),
                tiers: shares_text(reserved),
                amount: Some(reserved.total()),
                ..Summary::default()
            },
            Event::PaymentApproved {
                request, reserved, ..
            }
            | Event::PaymentRejected {
                request, reserved, ..
            }
            | Event::PaymentRequestExpired {
                request, reserved, ..
            } => Summary {
                subject: format!("request:{request}"),
                tiers: shares_text(reserved),
                amount: Some(reserved.total()),
                ..Summary::default()
            },
            Event::EventReversed {
                position, reversed, ..
            } => {
                let (tiers, amount) = reversed_money(reversed);
                Summary {
                    subject: format!("position:{position}"),
                    tiers,
                    amount,
                    ..Summary::default()
                }
            }
        }
    }
}

fn payment_beneficiary(payment: &Payment) -> String {
    match payment {
        Payment::Loan(l) => l.beneficiary.to_string(),
        Payment::Grant(g) => g.beneficiary.to_string(),
        Payment::Condolence(c) => c.beneficiary.to_string(),
        Payment::Claim(c) => c.beneficiary.to_string(),
        // The award or the premium names no beneficiary in the request itself.
        Payment::HousingInstalment(_) | Payment::BursaryInstalment(_) | Payment::Premium(_) => {
            String::new()
        }
    }
}

/// The tiers and the amount a reversal takes back.
fn reversed_money(reversed: &Reversible) -> (String, Option<Money>) {
    match reversed {
        Reversible::Commitment { tier, amount, .. }
        | Reversible::Receipt { tier, amount, .. }
        | Reversible::WriteOff { tier, amount, .. } => {
            (tier_name(*tier).to_string(), money(*amount))
        }
        Reversible::Loan {
            tier, principal, ..
        } => (tier_name(*tier).to_string(), money(*principal)),
        Reversible::Repayment {
            tier,
            principal,
            interest,
            ..
        } => (
            tier_name(*tier).to_string(),
            Some(principal.to_money() + *interest),
        ),
        Reversible::Payment { shares, .. } | Reversible::Premium { shares, .. } => {
            (shares_text(shares), Some(shares.total()))
        }
        Reversible::InsurerClaim { amount, .. } => {
            (tier_name(FundingTier::Insurer).to_string(), money(*amount))
        }
        Reversible::HousingAward { .. } | Reversible::BursaryAward { .. } => (String::new(), None),
    }
}
