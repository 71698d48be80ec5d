//! The recording subcommands: one per command of the domain, grouped by the thing
//! they concern (`welfare-ledger loan disburse ...`). Each builds a `Command` from its
//! flags and submits it as `--user` through `staff::record`, which checks role and
//! scope before the rules.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use ledger_domain::{
    Amount, AwardId, BeneficiaryId, BursaryInstalment, CampaignId, ClaimPayer, ClaimPayment,
    Command, CondolenceForm, CondolencePayment, FundId, GrantPayment, HousingInstalment,
    LoanDisbursement, LoanId, Period, PremiumPayment, TierSplit, UnitCode,
};

use crate::args::{
    free_text, free_text_opt, parse_period, parse_shares, CategoryArg, KindArg, Level, LineArg,
    ModalityArg, ModelArg, OutcomeArg, ProgrammeArg, Recording, Tier,
};
use crate::error::{rejected, Failure};
use crate::{staff, Cli};

/// `unit ...`
#[derive(Subcommand, Debug)]
pub enum UnitCommand {
    /// Register an organisational unit below its parent (admin).
    Register {
        /// The unit's code, e.g. FJ-SM.
        unit: UnitCode,
        /// Its name, e.g. 三明市.
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        level: Level,
        /// The unit one level up (none for a province).
        #[arg(long)]
        parent: Option<UnitCode>,
        #[command(flatten)]
        recording: Recording,
    },
    /// List the registered units.
    List,
}

/// `fund ...` (recording; the fund reads are in `read.rs`).
#[derive(Subcommand, Debug)]
pub enum FundWrite {
    /// Open a fund for a unit and programme (admin).
    Open {
        /// The fund's id, e.g. SM-2021-REV.
        fund: FundId,
        #[arg(long)]
        unit: UnitCode,
        #[arg(long, value_enum)]
        programme: ProgrammeArg,
        #[arg(long)]
        name: String,
        #[arg(long)]
        fiscal_year: Option<i32>,
        /// Payments above this need a second person's approval (default: never).
        #[arg(long)]
        threshold: Option<Amount>,
        /// Insurance funds only: who carries the risk.
        #[arg(long, value_enum)]
        insurance_model: Option<ModelArg>,
        #[command(flatten)]
        recording: Recording,
    },
    /// Set or remove a fund's approval threshold (admin).
    Threshold {
        fund: FundId,
        /// The new threshold.
        #[arg(long, required_unless_present = "none", conflicts_with = "none")]
        amount: Option<Amount>,
        /// Remove the threshold: no payment needs approval.
        #[arg(long)]
        none: bool,
        #[command(flatten)]
        recording: Recording,
    },
}

/// `beneficiary ...`
#[derive(Subcommand, Debug)]
pub enum BeneficiaryCommand {
    /// Record a beneficiary by opaque id and non-identifying attributes (clerk).
    Register {
        /// An opaque id, never a name or an ID-card number.
        beneficiary: BeneficiaryId,
        #[arg(long)]
        unit: UnitCode,
        #[arg(long, value_enum)]
        kind: KindArg,
        /// A category; repeat the flag for several.
        #[arg(long = "category", value_enum)]
        categories: Vec<CategoryArg>,
        #[command(flatten)]
        recording: Recording,
    },
}

/// The fields of an appropriation.
#[derive(Args, Debug)]
pub struct Appropriation {
    #[arg(long)]
    fund: FundId,
    #[arg(long, value_enum)]
    tier: Tier,
    #[arg(long)]
    amount: Amount,
    /// The appropriation document's reference, e.g. 闽计生协〔2021〕12号.
    #[arg(long)]
    reference: Option<String>,
    #[command(flatten)]
    recording: Recording,
}

/// `appropriation ...`
#[derive(Subcommand, Debug)]
pub enum AppropriationCommand {
    /// A tier commits (下达) money to a fund (clerk).
    Commit(Appropriation),
    /// Committed money arrives (到位) in the fund's cash (clerk).
    Receive(Appropriation),
}

/// `loan ...`
#[derive(Subcommand, Debug)]
pub enum LoanCommand {
    /// Lend money from one tier of a Happiness Project or revolving fund (clerk).
    Disburse {
        /// The new loan's id.
        loan: LoanId,
        #[arg(long)]
        fund: FundId,
        #[arg(long)]
        beneficiary: BeneficiaryId,
        /// The tier whose cash is lent; repaid principal returns to it.
        #[arg(long, value_enum)]
        tier: Tier,
        #[arg(long)]
        principal: Amount,
        /// Monthly instalments.
        #[arg(long)]
        term_months: u16,
        /// Months before the first instalment's month.
        #[arg(long, default_value_t = 0)]
        grace_months: u16,
        /// Annual interest in basis points (0 = interest-free).
        #[arg(long, default_value_t = 0)]
        rate_bp: u16,
        /// The batch label, e.g. 第十七批.
        #[arg(long)]
        batch: Option<String>,
        /// The borrower is a migrant (流动人口).
        #[arg(long)]
        migrant: bool,
        #[command(flatten)]
        recording: Recording,
    },
    /// Record a repayment: principal (partial, early or late) and any interest (clerk).
    Repay {
        loan: LoanId,
        #[arg(long)]
        principal: Amount,
        #[arg(long, default_value = "0")]
        interest: Amount,
        #[command(flatten)]
        recording: Recording,
    },
    /// Replace the schedule of the outstanding principal from the effective date (clerk).
    Reschedule {
        loan: LoanId,
        #[arg(long)]
        term_months: u16,
        #[arg(long, default_value_t = 0)]
        grace_months: u16,
        #[arg(long, default_value_t = 0)]
        rate_bp: u16,
        #[command(flatten)]
        recording: Recording,
    },
    /// Write off the outstanding principal (approver).
    WriteOff {
        loan: LoanId,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        recording: Recording,
    },
}

/// A payment split across tiers.
#[derive(Args, Debug)]
pub struct Paid {
    /// The payment.
    #[arg(long)]
    amount: Amount,
    /// Which tiers pay, adding up to the amount: province:600.00,city:400.00.
    #[arg(long, value_parser = parse_shares)]
    shares: TierSplit,
}

/// `grant ...`
#[derive(Subcommand, Debug)]
pub enum GrantCommand {
    /// Pay a Happiness Project grant (clerk).
    Pay {
        #[arg(long)]
        fund: FundId,
        #[arg(long)]
        beneficiary: BeneficiaryId,
        #[arg(long, value_enum)]
        modality: ModalityArg,
        #[arg(long)]
        batch: Option<String>,
        #[command(flatten)]
        paid: Paid,
        #[command(flatten)]
        recording: Recording,
    },
}

/// `housing ...`
#[derive(Subcommand, Debug)]
pub enum HousingCommand {
    /// Award a housing grant split across tiers, paid later in instalments (clerk).
    Award {
        award: AwardId,
        #[arg(long)]
        fund: FundId,
        #[arg(long)]
        beneficiary: BeneficiaryId,
        #[command(flatten)]
        paid: Paid,
        #[command(flatten)]
        recording: Recording,
    },
    /// Pay an instalment of a housing grant (clerk).
    Instalment {
        award: AwardId,
        #[command(flatten)]
        paid: Paid,
        #[command(flatten)]
        recording: Recording,
    },
    /// Record a follow-up visit (跟踪服务) to a housing grant's family (clerk).
    Visit {
        award: AwardId,
        #[arg(long, value_enum)]
        outcome: OutcomeArg,
        #[command(flatten)]
        recording: Recording,
    },
}

/// `bursary ...`
#[derive(Subcommand, Debug)]
pub enum BursaryCommand {
    /// Award a bursary for a student, academic year and tier (clerk).
    Award {
        award: AwardId,
        #[arg(long)]
        fund: FundId,
        #[arg(long)]
        student: BeneficiaryId,
        /// The calendar year the academic year starts in (2021 for 2021–22).
        #[arg(long)]
        academic_year: i32,
        #[arg(long, value_enum)]
        tier: Tier,
        #[arg(long)]
        amount: Amount,
        /// Over how many years the award is planned to be paid (1 to 8).
        #[arg(long, default_value_t = 1)]
        years: u8,
        /// A second award for the same student, year and tier needs a reason.
        #[arg(long)]
        supplement_reason: Option<String>,
        #[command(flatten)]
        recording: Recording,
    },
    /// Pay an instalment of a bursary, charged to the award's tier (clerk).
    Instalment {
        award: AwardId,
        #[arg(long)]
        amount: Amount,
        #[command(flatten)]
        recording: Recording,
    },
}

/// `insurance ...`
#[derive(Subcommand, Debug)]
pub enum InsuranceCommand {
    /// Collect and pay premiums for a coverage period (clerk).
    Premium {
        #[arg(long)]
        fund: FundId,
        #[arg(long, value_enum)]
        line: LineArg,
        #[arg(long)]
        coverage_start: NaiveDate,
        #[arg(long)]
        coverage_end: NaiveDate,
        #[arg(long)]
        households: u32,
        #[arg(long)]
        persons: u32,
        /// The premium excluding tax (税后保费收入).
        #[arg(long)]
        tax_exclusive: Amount,
        /// `--amount` is the premium including tax; `household:` in the shares is the
        /// households' own contribution.
        #[command(flatten)]
        paid: Paid,
        #[command(flatten)]
        recording: Recording,
    },
    /// Record a claim paid to a family (clerk): by the insurer, or by the fund's tiers
    /// (self-insured funds, with --shares).
    Claim {
        #[arg(long)]
        fund: FundId,
        #[arg(long, value_enum)]
        line: LineArg,
        #[arg(long)]
        beneficiary: BeneficiaryId,
        #[arg(long)]
        amount: Amount,
        /// The fund paid, charged to these tiers; without it the insurer paid.
        #[arg(long, value_parser = parse_shares)]
        shares: Option<TierSplit>,
        #[command(flatten)]
        recording: Recording,
    },
    /// Record the outstanding-claims reserve (未决) of a fund and line (clerk).
    Reserve {
        #[arg(long)]
        fund: FundId,
        #[arg(long, value_enum)]
        line: LineArg,
        #[arg(long)]
        amount: Amount,
        #[command(flatten)]
        recording: Recording,
    },
}

/// `condolence ...`
#[derive(Subcommand, Debug)]
pub enum CondolenceCommand {
    /// Open a condolence campaign, e.g. Spring Festival 2021 (clerk).
    Campaign {
        campaign: CampaignId,
        #[arg(long)]
        fund: FundId,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        recording: Recording,
    },
    /// Pay a household within a campaign (clerk).
    Pay {
        #[arg(long)]
        campaign: CampaignId,
        #[arg(long)]
        beneficiary: BeneficiaryId,
        #[arg(long, value_enum)]
        category: CategoryArg,
        /// Paid in goods of equal value: what was given, e.g. 大米和食用油 (default: cash).
        #[arg(long)]
        goods: Option<String>,
        #[command(flatten)]
        paid: Paid,
        #[command(flatten)]
        recording: Recording,
    },
}

/// `request ...` (recording; `request list` is in `read.rs`).
#[derive(Subcommand, Debug)]
pub enum RequestWrite {
    /// Approve a pending payment request, by its position (approver).
    Approve {
        request: u64,
        #[command(flatten)]
        recording: Recording,
    },
    /// Reject a pending payment request (approver; or the maker, withdrawing it).
    Reject {
        request: u64,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        recording: Recording,
    },
    /// Release every pending request whose approval window ended before --as-of (an
    /// admin of the whole ledger).
    Expire {
        #[arg(long)]
        as_of: NaiveDate,
        #[command(flatten)]
        recording: Recording,
    },
}

/// `event ...`
#[derive(Subcommand, Debug)]
pub enum EventCommand {
    /// Reverse a money event by its log position, once, with a reason (clerk).
    Reverse {
        position: u64,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        recording: Recording,
    },
}

/// `period ...`
#[derive(Subcommand, Debug)]
pub enum PeriodCommand {
    /// Close a month (2021-01) or a year (2021) for a unit and its subtree (admin).
    Close {
        unit: UnitCode,
        #[arg(long, value_parser = parse_period)]
        period: Period,
        #[command(flatten)]
        recording: Recording,
    },
}

fn submit(cli: &Cli, recording: &Recording, kind: &str, command: Command) -> Result<u8, Failure> {
    staff::record_as(cli, recording, kind, command)
}

fn text(field: &str, value: &str) -> Result<String, Failure> {
    free_text(field, value)
}

pub fn unit(cli: &Cli, command: &UnitCommand) -> Result<u8, Failure> {
    match command {
        UnitCommand::Register {
            unit,
            name,
            level,
            parent,
            recording,
        } => submit(
            cli,
            recording,
            "unit",
            Command::RegisterUnit {
                unit: unit.clone(),
                name: text("name", name)?,
                level: (*level).into(),
                parent: parent.clone(),
            },
        ),
        UnitCommand::List => crate::read::units(cli),
    }
}

pub fn fund(cli: &Cli, command: &FundWrite) -> Result<u8, Failure> {
    match command {
        FundWrite::Open {
            fund,
            unit,
            programme,
            name,
            fiscal_year,
            threshold,
            insurance_model,
            recording,
        } => submit(
            cli,
            recording,
            "fund",
            Command::OpenFund {
                fund: fund.clone(),
                unit: unit.clone(),
                programme: (*programme).into(),
                name: text("name", name)?,
                fiscal_year: *fiscal_year,
                approval_threshold: *threshold,
                insurance_model: insurance_model.map(Into::into),
            },
        ),
        FundWrite::Threshold {
            fund,
            amount,
            none: _,
            recording,
        } => submit(
            cli,
            recording,
            "threshold",
            Command::SetApprovalThreshold {
                fund: fund.clone(),
                threshold: *amount,
            },
        ),
    }
}

pub fn beneficiary(cli: &Cli, command: &BeneficiaryCommand) -> Result<u8, Failure> {
    match command {
        BeneficiaryCommand::Register {
            beneficiary,
            unit,
            kind,
            categories,
            recording,
        } => submit(
            cli,
            recording,
            "beneficiary",
            Command::RegisterBeneficiary {
                beneficiary: beneficiary.clone(),
                unit: unit.clone(),
                kind: (*kind).into(),
                categories: categories
                    .iter()
                    .map(|c| (*c).into())
                    .collect::<BTreeSet<_>>(),
            },
        ),
    }
}

pub fn appropriation(cli: &Cli, command: &AppropriationCommand) -> Result<u8, Failure> {
    let (a, receive) = match command {
        AppropriationCommand::Commit(a) => (a, false),
        AppropriationCommand::Receive(a) => (a, true),
    };
    let fund = a.fund.clone();
    let tier = a.tier.into();
    let reference = free_text_opt("reference", &a.reference)?;
    let command = if receive {
        Command::ReceiveAppropriation {
            fund,
            tier,
            amount: a.amount,
            reference,
        }
    } else {
        Command::CommitAppropriation {
            fund,
            tier,
            amount: a.amount,
            reference,
        }
    };
    submit(cli, &a.recording, "appropriation", command)
}

pub fn loan(cli: &Cli, command: &LoanCommand) -> Result<u8, Failure> {
    match command {
        LoanCommand::Disburse {
            loan,
            fund,
            beneficiary,
            tier,
            principal,
            term_months,
            grace_months,
            rate_bp,
            batch,
            migrant,
            recording,
        } => submit(
            cli,
            recording,
            "loan",
            Command::DisburseLoan(LoanDisbursement {
                loan: loan.clone(),
                fund: fund.clone(),
                beneficiary: beneficiary.clone(),
                tier: (*tier).into(),
                principal: *principal,
                term_months: *term_months,
                grace_months: *grace_months,
                annual_rate_bp: *rate_bp,
                batch: free_text_opt("batch", batch)?.map(Into::into),
                migrant: *migrant,
            }),
        ),
        LoanCommand::Repay {
            loan,
            principal,
            interest,
            recording,
        } => submit(
            cli,
            recording,
            "repay",
            Command::RepayLoan {
                loan: loan.clone(),
                principal: *principal,
                interest: *interest,
            },
        ),
        LoanCommand::Reschedule {
            loan,
            term_months,
            grace_months,
            rate_bp,
            recording,
        } => submit(
            cli,
            recording,
            "reschedule",
            Command::RescheduleLoan {
                loan: loan.clone(),
                term_months: *term_months,
                grace_months: *grace_months,
                annual_rate_bp: *rate_bp,
            },
        ),
        LoanCommand::WriteOff {
            loan,
            reason,
            recording,
        } => submit(
            cli,
            recording,
            "write-off",
            Command::WriteOffLoan {
                loan: loan.clone(),
                reason: text("reason", reason)?,
            },
        ),
    }
}

pub fn grant(cli: &Cli, command: &GrantCommand) -> Result<u8, Failure> {
    match command {
        GrantCommand::Pay {
            fund,
            beneficiary,
            modality,
            batch,
            paid,
            recording,
        } => submit(
            cli,
            recording,
            "grant",
            Command::PayGrant(GrantPayment {
                fund: fund.clone(),
                beneficiary: beneficiary.clone(),
                modality: (*modality).into(),
                batch: free_text_opt("batch", batch)?.map(Into::into),
                amount: paid.amount,
                shares: paid.shares.clone(),
            }),
        ),
    }
}

pub fn housing(cli: &Cli, command: &HousingCommand) -> Result<u8, Failure> {
    match command {
        HousingCommand::Award {
            award,
            fund,
            beneficiary,
            paid,
            recording,
        } => submit(
            cli,
            recording,
            "housing",
            Command::AwardHousingGrant {
                award: award.clone(),
                fund: fund.clone(),
                beneficiary: beneficiary.clone(),
                amount: paid.amount,
                shares: paid.shares.clone(),
            },
        ),
        HousingCommand::Instalment {
            award,
            paid,
            recording,
        } => submit(
            cli,
            recording,
            "housing",
            Command::PayHousingInstalment(HousingInstalment {
                award: award.clone(),
                amount: paid.amount,
                shares: paid.shares.clone(),
            }),
        ),
        HousingCommand::Visit {
            award,
            outcome,
            recording,
        } => submit(
            cli,
            recording,
            "visit",
            Command::RecordFollowUpVisit {
                award: award.clone(),
                outcome: (*outcome).into(),
            },
        ),
    }
}

pub fn bursary(cli: &Cli, command: &BursaryCommand) -> Result<u8, Failure> {
    match command {
        BursaryCommand::Award {
            award,
            fund,
            student,
            academic_year,
            tier,
            amount,
            years,
            supplement_reason,
            recording,
        } => submit(
            cli,
            recording,
            "bursary",
            Command::AwardBursary {
                award: award.clone(),
                fund: fund.clone(),
                student: student.clone(),
                academic_year: *academic_year,
                tier: (*tier).into(),
                amount: *amount,
                years: *years,
                supplement_reason: free_text_opt("supplement-reason", supplement_reason)?,
            },
        ),
        BursaryCommand::Instalment {
            award,
            amount,
            recording,
        } => submit(
            cli,
            recording,
            "bursary",
            Command::PayBursaryInstalment(BursaryInstalment {
                award: award.clone(),
                amount: *amount,
            }),
        ),
    }
}

pub fn insurance(cli: &Cli, command: &InsuranceCommand) -> Result<u8, Failure> {
    match command {
        InsuranceCommand::Premium {
            fund,
            line,
            coverage_start,
            coverage_end,
            households,
            persons,
            tax_exclusive,
            paid,
            recording,
        } => submit(
            cli,
            recording,
            "premium",
            Command::CollectPremium(PremiumPayment {
                fund: fund.clone(),
                line: (*line).into(),
                coverage_start: *coverage_start,
                coverage_end: *coverage_end,
                households: *households,
                persons: *persons,
                tax_inclusive: paid.amount,
                tax_exclusive: *tax_exclusive,
                shares: paid.shares.clone(),
            }),
        ),
        InsuranceCommand::Claim {
            fund,
            line,
            beneficiary,
            amount,
            shares,
            recording,
        } => submit(
            cli,
            recording,
            "claim",
            Command::PayClaim(ClaimPayment {
                fund: fund.clone(),
                line: (*line).into(),
                beneficiary: beneficiary.clone(),
                amount: *amount,
                payer: match shares {
                    Some(shares) => ClaimPayer::Fund {
                        shares: shares.clone(),
                    },
                    None => ClaimPayer::Insurer,
                },
            }),
        ),
        InsuranceCommand::Reserve {
            fund,
            line,
            amount,
            recording,
        } => submit(
            cli,
            recording,
            "reserve",
            Command::EstimateClaimsReserve {
                fund: fund.clone(),
                line: (*line).into(),
                amount: *amount,
            },
        ),
    }
}

pub fn condolence(cli: &Cli, command: &CondolenceCommand) -> Result<u8, Failure> {
    match command {
        CondolenceCommand::Campaign {
            campaign,
            fund,
            name,
            recording,
        } => submit(
            cli,
            recording,
            "campaign",
            Command::OpenCampaign {
                campaign: campaign.clone(),
                fund: fund.clone(),
                name: text("name", name)?,
            },
        ),
        CondolenceCommand::Pay {
            campaign,
            beneficiary,
            category,
            goods,
            paid,
            recording,
        } => {
            let form =
                match goods {
                    Some(goods) if goods.trim().is_empty() => return Err(rejected(
                        "--goods names what was given, e.g. 大米和食用油; leave it out for cash",
                    )),
                    Some(goods) => CondolenceForm::Goods {
                        description: text("goods", goods)?,
                    },
                    None => CondolenceForm::Cash,
                };
            submit(
                cli,
                recording,
                "condolence",
                Command::PayCondolence(CondolencePayment {
                    campaign: campaign.clone(),
                    beneficiary: beneficiary.clone(),
                    category: (*category).into(),
                    form,
                    amount: paid.amount,
                    shares: paid.shares.clone(),
                }),
            )
        }
    }
}

pub fn request(cli: &Cli, command: &RequestWrite) -> Result<u8, Failure> {
    match command {
        RequestWrite::Approve { request, recording } => submit(
            cli,
            recording,
            "approve",
            Command::ApprovePayment { request: *request },
        ),
        RequestWrite::Reject {
            request,
            reason,
            recording,
        } => submit(
            cli,
            recording,
            "reject",
            Command::RejectPayment {
                request: *request,
                reason: text("reason", reason)?,
            },
        ),
        RequestWrite::Expire { as_of, recording } => submit(
            cli,
            recording,
            "expire",
            Command::ExpireRequests { as_of: *as_of },
        ),
    }
}

pub fn event(cli: &Cli, command: &EventCommand) -> Result<u8, Failure> {
    match command {
        EventCommand::Reverse {
            position,
            reason,
            recording,
        } => submit(
            cli,
            recording,
            "reverse",
            Command::ReverseEvent {
                position: *position,
                reason: text("reason", reason)?,
            },
        ),
    }
}

pub fn period(cli: &Cli, command: &PeriodCommand) -> Result<u8, Failure> {
    match command {
        PeriodCommand::Close {
            unit,
            period,
            recording,
        } => submit(
            cli,
            recording,
            "close",
            Command::ClosePeriod {
                unit: unit.clone(),
                period: *period,
            },
        ),
    }
}
