//! Rejections in Chinese: `Rejection::detail_zh`, the same facts as the English message (ids, amounts, dates, positions) and the same advice, for the clerks who read the web workspace in 简体中文.
//!
//! One exhaustive `match` per error type, with no catch-all arm, so that a new variant
//! does not compile until it has its Chinese. Amounts print as `Money` and `Amount` do
//! (¥ and thousands separators), dates as YYYY-MM-DD, as in the English. The terms are
//! those the web workspace shows: the names of tiers, programmes and roles are their
//! `zh()`, which `crates/web/src/i18n.rs` uses too (省级, 幸福工程, 财务人员, …).

use crate::catalogue::{Programme, TierSplitError, YEAR_MAX, YEAR_MIN};
use crate::decide::BURSARY_YEARS_MAX;
use crate::money::AmountError;
use crate::rejection::Rejection;
use crate::rejection_terms::claim_payer_hint_zh;

impl Rejection {
    /// The message in Chinese: what was refused, with the figures, and what to do.
    pub fn detail_zh(&self) -> String {
        match self {
            Rejection::AmountZero { what } => format!("{}必须大于 ¥0.00", what.zh()),
            Rejection::InvalidAmount(e) => e.detail_zh(),
            Rejection::InvalidShares(e) => e.detail_zh(),
            Rejection::TierSharesMismatch {
                shares_total,
                amount,
            } => format!(
                "各级承担金额合计 {shares_total}，而总金额为 {amount}；请修改各级承担金额，使其合计等于总金额"
            ),
            Rejection::TextInvalid { what, max_chars } => {
                format!("{}的长度须为 1 至 {max_chars} 个字符", what.zh())
            }
            Rejection::YearInvalid { what, year } => format!(
                "{} {year} 不在 {YEAR_MIN} 至 {YEAR_MAX} 年之间",
                what.zh()
            ),
            Rejection::UnknownUnit { unit } => format!("没有单位 {unit}；请先登记该单位"),
            Rejection::UnitExists { unit } => format!("单位 {unit} 已登记"),
            Rejection::ProvinceHasParent { unit } => {
                format!("单位 {unit} 是省级单位，不能有上级单位")
            }
            Rejection::ParentRequired {
                unit,
                level,
                expected,
            } => format!(
                "单位 {unit} 是{}单位，需要指定一个{}上级单位",
                level.zh(),
                expected.zh()
            ),
            Rejection::ParentLevelMismatch {
                unit,
                level,
                expected,
                parent,
                parent_level,
            } => format!(
                "单位 {unit} 是{}单位，其上级必须是{}单位；{parent} 是{}单位",
                level.zh(),
                expected.zh(),
                parent_level.zh()
            ),
            Rejection::UnknownFund { fund } => format!("没有资金 {fund}；请先开设该资金"),
            Rejection::FundExists { fund } => format!("资金 {fund} 已开设"),
            Rejection::InsuranceModelRequired { fund } => format!(
                "计生保险资金 {fund} 需要指定承保方式：保险公司承保或自保"
            ),
            Rejection::InsuranceModelNotApplicable { fund, programme } => format!(
                "资金 {fund} 是{}，不能指定承保方式",
                programme_fund(*programme)
            ),
            Rejection::ProgrammeMismatch {
                fund,
                programme,
                action,
            } => format!(
                "资金 {fund} 是{}；{}需要{}",
                programme_fund(*programme),
                action.zh(),
                action.expected_zh()
            ),
            Rejection::UnknownBeneficiary { beneficiary } => {
                format!("没有受助对象 {beneficiary}；请先登记该受助对象")
            }
            Rejection::BeneficiaryExists { beneficiary } => {
                format!("受助对象 {beneficiary} 已登记")
            }
            Rejection::BeneficiaryOutsideFundUnit {
                beneficiary,
                beneficiary_unit,
                fund,
                fund_unit,
            } => format!(
                "受助对象 {beneficiary} 属于单位 {beneficiary_unit}，不在资金 {fund} 所属单位 {fund_unit} 的范围内"
            ),
            Rejection::InsufficientFunds {
                fund,
                tier,
                available,
                needed,
            } => format!(
                "资金 {fund} 的{}可用余额为 {available}，本次支付需要 {needed}",
                tier.zh()
            ),
            Rejection::CommitmentExceeded {
                fund,
                tier,
                outstanding,
                amount,
            } => format!(
                "{}已向资金 {fund} 下达但尚未到位的金额为 {outstanding}；本次到位 {amount} 超出此数，请先登记资金下达",
                tier.zh()
            ),
            Rejection::UnknownLoan { loan } => format!("没有借款 {loan}"),
            Rejection::LoanExists { loan } => {
                format!("借款 {loan} 已存在；请为新借款另编编号")
            }
            Rejection::LoanNotActive {
                loan,
                status,
                action,
            } => format!(
                "借款 {loan} {}，不能办理{}",
                status.zh(),
                action.zh()
            ),
            Rejection::RepaymentExceedsOutstanding {
                loan,
                outstanding,
                principal,
            } => format!(
                "借款 {loan} 的未还本金为 {outstanding}；本次还款本金为 {principal}"
            ),
            Rejection::LoanTermInvalid { term_months, max } => {
                format!("借款期限须为 1 至 {max} 个月；填写的是 {term_months}")
            }
            Rejection::LoanGraceInvalid { grace_months, max } => {
                format!("宽限期须为 0 至 {max} 个月；填写的是 {grace_months}")
            }
            Rejection::LoanRateInvalid {
                annual_rate_bp,
                max,
            } => format!("年利率须为 0 至 {max} 个基点；填写的是 {annual_rate_bp}"),
            Rejection::UnknownAward { award } => format!("没有核定 {award}"),
            Rejection::AwardExists { award } => {
                format!("核定 {award} 已存在；请为新核定另编编号")
            }
            Rejection::AwardKindMismatch { award, expected } => {
                format!("核定 {award} 不是有效的{}核定", expected.zh())
            }
            Rejection::DuplicateBursary {
                student,
                academic_year,
                tier,
                existing,
            } => format!(
                "学生 {student} 在 {academic_year} 学年已有{}助学金（核定 {existing}）；再次核定将重复资助，如确属补充资助，请注明补充资助理由",
                tier.zh()
            ),
            Rejection::InstalmentExceedsAward {
                award,
                tier,
                remaining,
                needed,
            } => format!(
                "核定 {award} 的{}部分尚余 {remaining} 待拨付；本次分期需要 {needed}",
                tier.zh()
            ),
            Rejection::BursaryYearsInvalid { years } => format!(
                "助学金资助年限须为 1 至 {BURSARY_YEARS_MAX} 年；填写的是 {years}"
            ),
            Rejection::UnknownCampaign { campaign } => format!("没有慰问活动 {campaign}"),
            Rejection::CampaignExists { campaign } => format!("慰问活动 {campaign} 已存在"),
            Rejection::ClaimPayerMismatch { fund, model } => format!(
                "资金 {fund} 为{}：{}",
                model.zh(),
                claim_payer_hint_zh(*model)
            ),
            Rejection::PremiumTaxInconsistent {
                tax_exclusive,
                tax_inclusive,
            } => format!(
                "税后保费（{tax_exclusive}）不能高于含税保费（{tax_inclusive}）"
            ),
            Rejection::CoverageInvalid { start, end } => {
                format!("保障止期 {end} 早于保障起期 {start}")
            }
            Rejection::UnknownRequest { request } => {
                format!("位置 {request} 没有待审批的付款申请")
            }
            Rejection::SelfApproval { request, user } => format!(
                "用户 {user} 提交了付款申请 {request}，不能同时审批；须由另一名工作人员审批"
            ),
            Rejection::NothingExpired { as_of } => format!(
                "{as_of} 之前没有已过期的待审批付款申请；未记录任何内容"
            ),
            Rejection::RequestExpired {
                request,
                expired_on,
            } => format!("付款申请 {request} 已于 {expired_on} 过期；请重新提交付款"),
            Rejection::PeriodClosed {
                unit,
                closed_unit,
                period,
                date,
            } => format!(
                "单位 {closed_unit}（含单位 {unit}）的会计期间 {period} 已结账；业务日期为 {date} 的记录不能登记，请将更正记入未结账的期间"
            ),
            Rejection::PeriodAlreadyClosed { unit, period } => {
                format!("单位 {unit} 的会计期间 {period} 已结账")
            }
            Rejection::PeriodInvalid { period } => {
                format!("会计期间 {period} 不是有效的年份或月份")
            }
            Rejection::EffectiveDateInFuture {
                effective_date,
                recorded_on,
            } => format!(
                "业务日期 {effective_date} 晚于记账日期 {recorded_on}；资金不能在未来发生变动"
            ),
            Rejection::UnknownEvent { position } => format!("位置 {position} 尚无事件"),
            Rejection::NotReversible { position } => {
                format!("位置 {position} 的事件不涉及资金变动，不能冲销")
            }
            Rejection::AlreadyReversed {
                position,
                reversed_by,
            } => format!("位置 {position} 的事件已被位置 {reversed_by} 的事件冲销"),
            Rejection::CannotReverseReversal { position } => format!(
                "位置 {position} 的事件本身就是冲销，不能再冲销；请重新登记原始记录"
            ),
            Rejection::ReversalBlocked { position, why } => {
                format!("位置 {position} 的事件不能冲销：{}", why.zh())
            }
            Rejection::BeforeDisbursement {
                loan,
                disbursed_on,
                date,
                action,
            } => format!(
                "借款 {loan} 于 {disbursed_on} 发放；日期为 {date} 的{}不能早于发放日",
                action.zh()
            ),
            Rejection::UnknownUser { user } => {
                format!("用户 {user} 未在本账本登记；须由管理员先登记")
            }
            Rejection::UserDisabled { user } => format!("用户 {user} 已停用"),
            Rejection::UserExists { user } => {
                format!("用户 {user} 已登记；如需调整，请变更其角色")
            }
            Rejection::NotPermitted { user, role, action } => format!(
                "用户 {user} 的角色是{}，{}不能{}",
                role.zh(),
                role.zh(),
                action.zh()
            ),
            Rejection::OutOfScope { user, scope, unit } => match unit {
                Some(unit) => format!(
                    "用户 {user} 的工作范围是单位 {scope}，单位 {unit} 不在此范围内"
                ),
                None => format!(
                    "用户 {user} 的工作范围是单位 {scope}，不能办理涉及全部账本的事项"
                ),
            },
            Rejection::ScopeRequired { role } => format!(
                "{}必须绑定一个单位（范围）；只有审计人员和管理员可以不设范围、覆盖全部账本",
                role.zh()
            ),
            Rejection::ScopeNotApplicable { .. } => {
                "审计人员查阅全部账本，不设范围".to_string()
            }
            Rejection::TokenExists { token } => {
                format!("摘要为 {token} 的令牌已签发过；请签发新的随机令牌")
            }
            Rejection::UnknownToken { token } => {
                format!("没有签发过摘要为 {token} 的令牌")
            }
            Rejection::TokenAlreadyRevoked { token } => format!("令牌 {token} 已吊销"),
            Rejection::TokenExpiryInvalid {
                expires_on,
                issued_on,
            } => format!("令牌到期日 {expires_on} 早于签发日 {issued_on}"),
            Rejection::LastAdmin { user } => format!(
                "用户 {user} 是全部账本最后一名在用的管理员；停用或变更前请先登记另一名管理员"
            ),
            Rejection::PersonalDataNotPermitted { user } => {
                format!("用户 {user} 未获授个人信息查阅权；可由管理员授予")
            }
            Rejection::PersonalDataAccessAlreadyGranted { user } => {
                format!("用户 {user} 已有个人信息查阅权")
            }
            Rejection::PersonalDataAccessNotGranted { user } => {
                format!("用户 {user} 没有可收回的个人信息查阅权")
            }
            Rejection::BeneficiaryRestricted { beneficiary } => format!(
                "受助对象 {beneficiary} 已被限制处理：其个人信息只能保存，在管理员解除限制之前不能向其付款"
            ),
            Rejection::BeneficiaryErased { beneficiary } => format!(
                "受助对象 {beneficiary} 的个人信息已删除：不能再向其付款或查询其信息"
            ),
            Rejection::BeneficiaryNotRestricted { beneficiary } => {
                format!("受助对象 {beneficiary} 未被限制处理")
            }
            Rejection::PersonalDigits { what, digits } => format!(
                "{}中有连续 {digits} 位数字，疑似身份证号、电话号码或银行卡号；个人信息不得写入账本：请只写明用途，不要写入个人信息",
                what.zh()
            ),
            Rejection::BeneficiaryAlreadyRestricted { beneficiary } => {
                format!("受助对象 {beneficiary} 已被限制处理")
            }
        }
    }
}

impl AmountError {
    /// The message in Chinese.
    pub fn detail_zh(&self) -> String {
        match self {
            AmountError::Empty => "未填写金额；请填写数字，如 1234.56".to_string(),
            AmountError::Negative { input } => {
                format!("金额 {input} 为负数；金额请填写正数")
            }
            AmountError::Exponent { input } => {
                format!("金额 {input} 使用了科学计数法；请写出完整数字")
            }
            AmountError::Malformed { input } => {
                format!("{input} 不是金额；请填写如 1234.56、1,234.56、616.8万 或 1.32亿 的数字")
            }
            AmountError::TooManyDecimals { input } => {
                format!("金额 {input} 超过两位小数（元以下只到分）；账本从不对金额四舍五入")
            }
            AmountError::Overflow { input } => {
                format!("金额 {input} 超过上限 ¥10,000,000,000,000.00")
            }
        }
    }
}

impl TierSplitError {
    /// The message in Chinese.
    pub fn detail_zh(&self) -> String {
        match self {
            TierSplitError::Empty => {
                "未填写任何级次的承担金额；请至少填写一个级次及其承担金额".to_string()
            }
            TierSplitError::DuplicateTier(tier) => {
                format!("{}在承担金额中出现了不止一次", tier.zh())
            }
            TierSplitError::ZeroShare(tier) => {
                format!("{}的承担金额为 ¥0.00；该级次不承担时请不要填写", tier.zh())
            }
        }
    }
}

/// A fund of the programme, in Chinese: 金秋助学资金, 滚动资金.
fn programme_fund(programme: Programme) -> String {
    match programme {
        Programme::RevolvingFund => programme.zh().to_string(),
        Programme::Condolence => format!("{}专项资金", programme.zh()),
        Programme::HappinessProject
        | Programme::Housing
        | Programme::Bursary
        | Programme::Insurance => format!("{}资金", programme.zh()),
    }
}
