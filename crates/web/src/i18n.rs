//! Every text the pages show, in 简体中文 (the default) and English. One table: a key,
//! the Chinese, the English. A test checks that every key the templates and the code
//! use is in it, with both languages, and that every error code the ledger documents
//! has a sentence in both.

use std::collections::HashMap;
use std::sync::OnceLock;

use ledger_domain::{FundingTier, Programme, Role};

/// The page language, chosen by the `wl_lang` cookie; Chinese unless it says `en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn from_cookie(value: Option<&str>) -> Lang {
        match value {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The `lang` attribute of the page.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// `zh` in Chinese, `en` in English.
    pub fn pick<T>(self, zh: T, en: T) -> T {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// (key, 中文, English). The Chinese names of tiers, programmes and roles are the
/// domain's (`zh()`), which its Chinese rejections use too.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("app.name", "计生协福利资金账本", "Welfare Ledger"),
    ("app.tagline", "只增不改、哈希链相连的福利资金账本", "An append-only, hash-chained ledger of welfare funds"),
    ("lang.switch", "English", "中文"),
    ("nav.home", "首页", "Home"),
    ("nav.funds", "资金", "Funds"),
    ("nav.record", "记账", "Record"),
    ("nav.import", "批量导入", "Import"),
    ("nav.requests", "待审批", "Approvals"),
    ("nav.dashboard", "统计看板", "Dashboard"),
    ("nav.audit", "审计追踪", "Audit trail"),
    ("nav.verify", "链校验", "Chain check"),
    ("nav.sign_out", "退出", "Sign out"),
    ("nav.skip", "跳到正文", "Skip to content"),
    ("role.clerk", Role::Clerk.zh(), "finance clerk"),
    ("role.approver", Role::Approver.zh(), "approver"),
    ("role.manager", Role::Manager.zh(), "programme manager"),
    ("role.auditor", Role::Auditor.zh(), "auditor"),
    ("role.admin", Role::Admin.zh(), "administrator"),
    ("who.signed_in_as", "当前用户", "Signed in as"),
    ("who.scope", "范围", "Scope"),
    ("who.whole_ledger", "全部账本", "the whole ledger"),
    ("signin.title", "登录", "Sign in"),
    ("signin.token", "访问令牌", "Access token"),
    ("signin.token_hint", "粘贴管理员发给您的令牌（以 wlt_ 开头）。令牌只保存在本浏览器的 HttpOnly Cookie 中。", "Paste the token an administrator issued to you (it starts with wlt_). It is kept only in an HttpOnly cookie of this browser."),
    ("signin.submit", "登录", "Sign in"),
    ("signin.signed_out", "您已退出。", "You are signed out."),
    ("signin.required", "请先登录。", "Please sign in first."),
    ("home.title", "工作台", "Workspace"),
    ("home.intro", "请选择要办理的事项。", "Choose what to do."),
    ("home.clerk", "记录借款、还款、补助、助学金、安居补助、保费、理赔和慰问金；批量导入 CSV。", "Record loans, repayments, grants, bursaries, housing grants, premiums, claims and condolence payments; import a CSV."),
    ("home.approver", "审批超过限额的付款申请。", "Approve or reject payments above a fund's threshold."),
    ("home.manager", "按单位和年度查看资金、发放、预算执行与各项比率。", "Fund balances, disbursements, budget execution and rates by unit and year."),
    ("home.auditor", "检索审计追踪、查看任意日期的资金对账单、校验哈希链、导出 JSONL。", "Search the audit trail, read any fund's statement as of any date, verify the hash chain, export JSONL."),
    ("home.admin", "查看资金与审计追踪。用户和令牌请用命令行或 HTTP API 管理。", "Read funds and the audit trail. Manage users and tokens with the command line or the HTTP API."),
    ("funds.title", "资金", "Funds"),
    ("funds.fund", "资金编号", "Fund"),
    ("funds.name", "名称", "Name"),
    ("funds.unit", "单位", "Unit"),
    ("funds.programme", "项目", "Programme"),
    ("funds.year", "年度", "Year"),
    ("funds.threshold", "审批限额（元）", "Approval threshold (元)"),
    ("funds.none", "无", "none"),
    ("funds.filter", "筛选", "Filter"),
    ("funds.filter_hint", "按资金编号、单位或名称筛选", "Filter by fund, unit or name"),
    ("fund.title", "资金情况", "Fund"),
    ("fund.as_of", "截至日期", "As of"),
    ("fund.as_of_hint", "留空为当前；填写日期则显示该日（按业务日期）的余额与对账单。", "Empty for now; a date shows the balance and statement as of that business date."),
    ("fund.show", "显示", "Show"),
    ("fund.figure", "项目", "Figure"),
    ("fund.total", "合计（元）", "Total (元)"),
    ("fund.available", "可用余额", "Available"),
    ("fund.committed", "已下达", "Committed"),
    ("fund.received", "已到位", "Received"),
    ("fund.disbursed", "已发放", "Disbursed"),
    ("fund.reserved", "审批中冻结", "Reserved for approval"),
    ("fund.lent", "已放款", "Lent"),
    ("fund.repaid", "已回收", "Repaid"),
    ("fund.outstanding", "借款余额", "Loans outstanding"),
    ("fund.budget_execution", "预算执行率", "Budget execution rate"),
    ("fund.by_tier", "分级次（元）", "By tier (元)"),
    ("fund.statement", "对账单（最近 50 笔）", "Statement (latest 50 lines)"),
    ("fund.position", "位置", "Position"),
    ("fund.date", "业务日期", "Business date"),
    ("fund.event", "事件", "Event"),
    ("fund.change", "可用余额变动（元）", "Change in available (元)"),
    ("fund.balance_after", "可用余额（元）", "Available after (元)"),
    ("fund.actor", "经办人", "Member of staff"),
    ("fund.memo", "摘要", "Memo"),
    ("fund.lines_total", "笔", "lines"),
    ("tier.Province", FundingTier::Province.zh(), "Province"),
    ("tier.City", FundingTier::City.zh(), "City"),
    ("tier.County", FundingTier::County.zh(), "County"),
    ("tier.Township", FundingTier::Township.zh(), "Township"),
    ("tier.Village", FundingTier::Village.zh(), "Village"),
    ("tier.HouseholdContribution", FundingTier::HouseholdContribution.zh(), "Households' own"),
    ("tier.Insurer", FundingTier::Insurer.zh(), "Insurer"),
    ("tier.Donation", FundingTier::Donation.zh(), "Donations"),
    ("tier.Interest", FundingTier::Interest.zh(), "Interest"),
    ("programme.HappinessProject", Programme::HappinessProject.zh(), "Happiness Project"),
    ("programme.RevolvingFund", Programme::RevolvingFund.zh(), "Revolving fund"),
    ("programme.Housing", Programme::Housing.zh(), "Housing"),
    ("programme.Bursary", Programme::Bursary.zh(), "Golden Autumn bursaries"),
    ("programme.Insurance", Programme::Insurance.zh(), "Family-planning insurance"),
    ("programme.Condolence", Programme::Condolence.zh(), "Condolence payments"),
    ("record.title", "记账", "Record a payment"),
    ("record.intro", "选择要记录的业务。每张表单带有一次性的幂等键：重复点击或重新提交不会重复付款。", "Choose what to record. Every form carries a one-time idempotency key: a double click or a resubmission never pays twice."),
    ("kind.commit", "资金下达（拨款计划）", "Appropriation committed"),
    ("kind.receive", "资金到位", "Appropriation received"),
    ("field.reference", "文号", "Reference (document number)"),
    ("kind.loan", "借款发放", "Loan"),
    ("kind.repayment", "借款还款", "Loan repayment"),
    ("kind.grant", "幸福工程补助", "Happiness Project grant"),
    ("kind.bursary", "金秋助学（分级承担，本年度发放）", "Bursary (tier shares, paid this year)"),
    ("kind.bursary_instalment", "助学金分期发放", "Bursary instalment"),
    ("kind.housing", "安居工程补助核定（分级承担）", "Housing grant award (tier shares)"),
    ("kind.housing_instalment", "安居工程补助分期拨付", "Housing grant instalment"),
    ("kind.premium", "保费缴纳", "Insurance premium"),
    ("kind.claim", "理赔支付", "Insurance claim"),
    ("kind.campaign", "开设慰问活动", "Open a condolence campaign"),
    ("kind.condolence", "慰问金发放", "Condolence payment"),
    ("field.fund", "资金", "Fund"),
    ("field.loan", "借款编号", "Loan id"),
    ("field.beneficiary", "受助对象编号", "Beneficiary id"),
    ("field.beneficiary_hint", "只填编号（如 b-000123），不要填姓名、身份证号或电话。", "The id only (e.g. b-000123); never a name, ID number or phone."),
    ("field.student", "学生编号", "Student id"),
    ("field.tier", "出资级次", "Funding tier"),
    ("field.principal", "本金（元）", "Principal (元)"),
    ("field.interest", "利息（元）", "Interest (元)"),
    ("field.amount", "金额（元）", "Amount (元)"),
    ("field.amount_hint", "可写 1234.56、1,234.56 或 616.8万", "Type 1234.56, 1,234.56 or 616.8万"),
    ("field.term_months", "期限（月）", "Term (months)"),
    ("field.grace_months", "宽限期（月）", "Grace (months)"),
    ("field.annual_rate_bp", "年利率（基点，0 为免息）", "Annual rate (basis points; 0 = interest-free)"),
    ("field.batch", "批次", "Batch"),
    ("field.migrant", "流动人口", "Migrant"),
    ("field.modality", "帮扶方式", "Modality"),
    ("field.shares", "分级承担（元）", "Tier shares (元)"),
    ("field.shares_hint", "各级承担的金额，合计即为本次金额；不承担的级次留空。", "Each tier's share; they add up to the payment. Leave a tier empty when it pays nothing."),
    ("field.award", "核定编号", "Award id"),
    ("field.award_bursary_hint", "每个级次各记一笔核定：编号后加 -province、-city、-county。", "One award per tier is recorded: the id with -province, -city, -county appended."),
    ("field.academic_year", "学年（起始年份）", "Academic year (the year it starts)"),
    ("field.line", "险种", "Policy line"),
    ("field.coverage_start", "保障起期", "Cover from"),
    ("field.coverage_end", "保障止期", "Cover to"),
    ("field.households", "参保户数", "Households covered"),
    ("field.persons", "参保人数", "Persons covered"),
    ("field.tax_inclusive", "含税保费（元）", "Premium incl. tax (元)"),
    ("field.tax_exclusive", "税后保费（元）", "Premium excl. tax (元)"),
    ("field.payer", "赔付方", "Paid by"),
    ("field.campaign", "慰问活动编号", "Campaign id"),
    ("field.campaign_name", "活动名称", "Campaign name"),
    ("field.category", "对象类别", "Category"),
    ("field.form", "慰问形式", "Form"),
    ("field.goods", "实物说明（实物慰问时填写）", "Goods (when paid in goods)"),
    ("field.effective_date", "业务日期", "Business date"),
    ("field.effective_date_hint", "资金实际发生的日期；留空为今天。", "The day the money moved; empty for today."),
    ("field.memo", "摘要 / 凭证号", "Memo / voucher"),
    ("field.memo_hint", "凭证号或说明，不要写个人信息。", "A voucher number or note; no personal information."),
    ("field.required", "必填", "required"),
    ("field.choose", "请选择", "Choose"),
    ("modality.Relief", "扶弱济困", "Relief"),
    ("modality.Skills", "扶智赋能", "Skills"),
    ("modality.Health", "扶助健康", "Health"),
    ("line.HouseholdAccident", "计生家庭意外伤害保险", "Household accident"),
    ("line.HospitalNursing", "住院护理补贴保险", "Hospital nursing subsidy"),
    ("line.CriticalIllness", "重大疾病保险", "Critical illness"),
    ("payer.insurer", "保险公司", "The insurer"),
    ("payer.Province", "资金：省级", "The fund: province"),
    ("payer.City", "资金：市级", "The fund: city"),
    ("payer.County", "资金：县级", "The fund: county"),
    ("category.PoorHousehold", "困难家庭", "Poor household"),
    ("category.SpecialFamily", "计生特殊家庭", "Special family"),
    ("category.OnlyChild", "独生子女家庭", "Only-child family"),
    ("category.TwoDaughters", "双女户", "Two-daughter family"),
    ("category.Migrant", "流动人口", "Migrant"),
    ("category.Student", "学生", "Student"),
    ("category.Mother", "计生母亲", "Mother"),
    ("form.Cash", "现金", "Cash"),
    ("form.Goods", "实物", "Goods"),
    ("form.submit", "提交", "Submit"),
    ("form.errors", "表单有误，请按提示修改。未记录任何内容。", "The form has errors; nothing was recorded. Correct the fields marked."),
    ("form.refused", "账本拒绝了这笔记录，未记录任何内容：", "The ledger refused this; nothing was recorded:"),
    ("form.not_permitted", "您的角色不能办理此事项。", "Your role may not do this."),
    ("form.current_balance", "所选资金的可用余额", "Available in the chosen fund"),
    ("done.title", "已记录", "Recorded"),
    ("done.recorded", "已写入账本并落盘。", "Written to the ledger and durable."),
    ("done.replayed", "这是重复提交：账本返回原来的结果，没有再次付款。", "This was a repeated submission: the ledger answered the original result and paid nothing twice."),
    ("done.pending", "金额超过该资金的审批限额：已生成付款申请，资金已冻结，待另一人审批后才发放。", "The amount is above the fund's approval threshold: a payment request was recorded and the money reserved; it is paid when another person approves."),
    ("done.command_id", "指令编号", "Command id"),
    ("done.positions", "账本位置", "Log positions"),
    ("done.again", "再记一笔", "Record another"),
    ("done.view_fund", "查看资金", "View the fund"),
    ("import.title", "批量导入付款（CSV）", "Import payments (CSV)"),
    ("import.intro", "上传 CSV 文件批量记录付款；先逐行校验，再记入账本；同一文件重复导入不会重复付款。", "Upload a CSV file of payments: every row is checked first, then recorded; importing the same file again never pays twice."),
    ("import.file", "CSV 文件", "CSV file"),
    ("import.file_hint", "列与 docs/EXCHANGE.md 的付款导入格式一致（中英文表头），受助对象只写编号。", "The columns of docs/EXCHANGE.md's payments import (Chinese and English headers); beneficiaries by id only."),
    ("import.skip", "跳过有误的行（其余行照常记入）", "Skip bad rows (record the others)"),
    ("import.skip_hint", "不勾选时，只要有一行有误，整个文件都不记入。", "Unticked, one bad row means nothing in the file is recorded."),
    ("import.submit", "开始导入", "Start the import"),
    ("import.checking", "正在逐行校验……", "Checking every row…"),
    ("import.applying", "正在记入账本", "Recording"),
    ("import.finished", "导入完成。", "The import is finished."),
    ("import.rows", "文件行数", "Rows in the file"),
    ("import.applied", "本次记入", "Recorded now"),
    ("import.duplicates", "以前已记入（未重复）", "Recorded before (not again)"),
    ("import.rejected", "被拒绝的行", "Rows refused"),
    ("import.pending", "待审批的行", "Rows awaiting approval"),
    ("import.rejects_download", "下载被拒绝的行（rejects.csv，可修改后重新导入）", "Download the refused rows (rejects.csv; fix them and import it again)"),
    ("import.again", "再导入一个文件", "Import another file"),
    ("import.progress", "进度", "Progress"),
    ("problem.import_rows_rejected", "文件中有错误的行，全部未记入。请下载被拒绝的行，修改后重新导入。", "Some rows are bad, so nothing was recorded. Download the refused rows, fix them and import again."),
    ("problem.import_interrupted", "导入中途停止；用同一文件重新导入即可补记其余行（不会重复）。", "The import stopped part-way; import the same file again to record the rest (nothing twice)."),
    ("problem.import_file", "文件无法使用（编码、表头或大小有误）。", "The file cannot be used (encoding, header or size)."),
    ("problem.personal_information", "文件中有疑似个人信息的列，请删除后只用编号标识受助对象。", "The file has columns that look like personal information; remove them and identify beneficiaries by id."),
    ("requests.title", "待审批的付款申请", "Payment requests awaiting approval"),
    ("requests.none", "没有待审批的申请。", "No requests are waiting."),
    ("requests.request", "申请号", "Request"),
    ("requests.maker", "申请人", "Requested by"),
    ("requests.requested_on", "申请日期", "Requested on"),
    ("requests.expires_on", "截止日期", "Expires on"),
    ("requests.reserved", "冻结金额（元）", "Reserved (元)"),
    ("requests.payment", "付款内容", "Payment"),
    ("requests.actions", "操作", "Actions"),
    ("requests.approve", "批准", "Approve"),
    ("requests.reject", "驳回", "Reject"),
    ("requests.withdraw", "撤回", "Withdraw"),
    ("requests.reason", "理由", "Reason"),
    ("requests.own", "本人提交的申请，须由他人审批。", "Your own request: someone else must approve it."),
    ("requests.approved", "已批准，款项已发放。", "Approved; the payment is made."),
    ("requests.rejected", "已驳回，冻结资金已释放。", "Rejected; the reserved money is released."),
    ("payment.Loan", "借款", "Loan"),
    ("payment.Grant", "补助", "Grant"),
    ("payment.HousingInstalment", "安居补助分期", "Housing instalment"),
    ("payment.BursaryInstalment", "助学金分期", "Bursary instalment"),
    ("payment.Condolence", "慰问金", "Condolence"),
    ("payment.Claim", "理赔", "Claim"),
    ("payment.Premium", "保费", "Premium"),
    ("audit.title", "审计追踪", "Audit trail"),
    ("audit.key", "检索依据", "Search by"),
    ("audit.value", "检索值", "Value"),
    ("audit.by_beneficiary", "受助对象编号", "Beneficiary id"),
    ("audit.by_fund", "资金编号", "Fund id"),
    ("audit.by_actor", "经办人（工作人员编号）", "Member of staff"),
    ("audit.by_command", "指令编号", "Command id"),
    ("audit.by_dates", "仅按日期", "Dates only"),
    ("audit.from", "起始日期", "From"),
    ("audit.to", "截止日期", "To"),
    ("audit.search", "检索", "Search"),
    ("audit.results", "条记录", "records"),
    ("audit.none", "没有符合条件的记录。", "No records match."),
    ("audit.recorded_at", "记录时间（UTC）", "Recorded at (UTC)"),
    ("audit.command_id", "指令编号", "Command id"),
    ("audit.hash", "链哈希", "Chain hash"),
    ("audit.reverses", "冲销", "Reverses"),
    ("audit.reversed_by", "被冲销于", "Reversed by"),
    ("audit.next", "下一页", "Next page"),
    ("audit.export", "导出全部账本（JSONL）", "Export the whole ledger (JSONL)"),
    ("audit.export_hint", "每行一条事件，含原始记录字节与链哈希，可用 docs/tools/verify_export.py 离线复核。", "One event a line with its exact record bytes and chain hashes; recheck offline with docs/tools/verify_export.py."),
    ("verify.title", "哈希链校验", "Hash chain verification"),
    ("verify.intact", "完整：从第 0 条起重新计算，所有哈希和链接一致。", "Intact: recomputed from position 0, every hash and link holds."),
    ("verify.broken", "链已断开！", "The chain is broken!"),
    ("verify.events_checked", "已校验事件数", "Events checked"),
    ("verify.head_position", "账本长度", "Events in the log"),
    ("verify.head_hash", "最新链头哈希", "Latest head hash"),
    ("verify.algorithm", "哈希算法", "Hash algorithm"),
    ("verify.first_break", "首个断点", "First break"),
    ("dashboard.title", "统计看板", "Dashboard"),
    ("dashboard.unit", "单位", "Unit"),
    ("dashboard.year", "年度", "Year"),
    ("dashboard.show", "显示", "Show"),
    ("dashboard.programmes", "各项目资金情况（元）", "Programmes (元)"),
    ("dashboard.committed", "已下达", "Committed"),
    ("dashboard.received", "已到位", "Received"),
    ("dashboard.disbursed", "已发放", "Disbursed"),
    ("dashboard.budget_execution", "预算执行率", "Budget execution"),
    ("dashboard.beneficiaries", "受助户/人次", "Households / people helped"),
    ("dashboard.growth", "同比增长", "Year on year"),
    ("dashboard.children", "下级单位（点击钻取）", "Units below (click to drill down)"),
    ("dashboard.up", "上一级", "Up one level"),
    ("dashboard.loans", "借款（截至年末）", "Loans (as of the year's end)"),
    ("dashboard.repayment_rate", "还款率", "Repayment rate"),
    ("dashboard.par30", "逾期30天以上风险率", "PAR30"),
    ("dashboard.outstanding", "借款余额（元）", "Outstanding (元)"),
    ("dashboard.insurance", "计生家庭意外伤害保险", "Household accident insurance"),
    ("dashboard.premium", "税后保费收入（元）", "Premium income after tax (元)"),
    ("dashboard.claims", "已决赔款（元）", "Claims paid (元)"),
    ("dashboard.loss_ratio", "简单赔付率", "Simple loss ratio"),
    ("dashboard.no_data", "该年度没有数据。", "No figures for this year."),
    ("dashboard.definitions", "指标定义", "Definitions"),
    ("dashboard.month", "月份", "Month"),
    ("dashboard.balances", "各项目资金余额（截至年末或今天）", "Fund balances by programme (at the year's end or today)"),
    ("dashboard.funds", "资金数", "Funds"),
    ("dashboard.households", "受助户数", "Households helped"),
    ("dashboard.students", "受助学生数", "Students helped"),
    ("def.balances", "资金余额为该单位及其所有下级单位的资金在截至日（按业务日期）的合计。可用余额 = 到位资金 + 回收本金 − 放款 − 发放 − 审批中冻结（含利息、保费与农户自缴，定义见 docs/PROJECTIONS.md）。", "Balances add up the funds of the unit and every unit below it as of the date (business date). Available = received + repaid − lent − paid − reserved (with interest, premiums and households' contributions; docs/PROJECTIONS.md)."),
    ("dashboard.monthly", "每月发放", "Disbursed per month"),
    ("dashboard.trends", "赔付率与还款率趋势", "Loss ratio and repayment rate by year"),
    ("dashboard.chart_monthly", "按月的已发放金额，单位万元", "Money disbursed per month, in 万元 (10,000 yuan)"),
    ("dashboard.chart_trends", "各年度简单赔付率（计生家庭意外伤害保险）与借款还款率，单位 %", "Simple loss ratio (household accident insurance) and loan repayment rate per year, in %"),
    ("dashboard.wan", "万元", "万元 (10,000 yuan)"),
    ("dashboard.in_wan", "金额以万元显示", "Show money in 万元"),
    ("dashboard.download", "下载", "Download"),
    ("dashboard.yuan_suffix", "（元）", " (元)"),
    ("dashboard.wan_suffix", "（万元）", " (万元)"),
    ("dashboard.unit_hint", "单位编号，如 FJ、FJ-SM、FJ-SM-SX", "A unit code such as FJ, FJ-SM, FJ-SM-SX"),
    ("dashboard.money_note", "金额单位：元；下载的 CSV/XLSX 均为元，精确到分。", "Money in 元 (yuan), exact to the fen, in the CSV and XLSX downloads."),
    ("def.helped", "受助户/人次 = 期间内收到该项目付款的不同受助对象数；其中户与学生按登记的对象类型和类别计（定义见 docs/PROJECTIONS.md）。", "Households / people helped = the distinct beneficiaries paid by the programme in the period; households and students by their registered kind and category (docs/PROJECTIONS.md)."),
    ("def.helped_all", "受助户/人次 = 期间内收到任一项目付款的不同受助对象数；同一对象受多个项目资助只计一次（定义见 docs/PROJECTIONS.md）。", "Households / people helped = the distinct beneficiaries paid by any programme in the period; someone helped by several programmes counts once (docs/PROJECTIONS.md)."),
    ("def.units_sum", "每个下级单位的数字为其整棵子树（含其下所有单位）各项目之和。", "Each unit below counts its whole subtree, all programmes together."),
    ("def.monthly", "每月发放 = 业务日期在该月内的各项目已发放金额之和（定义见 docs/PROJECTIONS.md）。", "Disbursed per month = the programmes' money disbursed with a business date in the month (docs/PROJECTIONS.md)."),
    ("def.trend_dates", "赔付率按年度计算（计生家庭意外伤害保险）；还款率、PAR30 与借款余额截至各年 12 月 31 日。", "Loss ratios are per year (household accident insurance); repayment rate, PAR30 and outstanding are as of 31 December of each year."),
    ("def.budget_execution", "预算执行率 = 已发放 ÷ 已下达（同一资金、同一期间）。", "Budget execution rate = disbursed ÷ committed, per fund and period."),
    ("def.loss_ratio", "简单赔付率 = 已决赔款 ÷ 税后保费收入（同一期间、同一险种），可超过 100%。", "Simple loss ratio = claims paid ÷ premium income after tax, same period and policy line; it can exceed 100%."),
    ("def.repayment_rate", "还款率 = 按期归还的本金 ÷ 截至当日应还本金。", "Repayment rate = principal repaid on time ÷ principal due so far."),
    ("def.par30", "PAR30 = 有逾期超过 30 天还款的借款余额 ÷ 全部借款余额。", "PAR30 = outstanding principal of loans with a payment more than 30 days late ÷ all outstanding principal."),
    ("def.growth", "同比增长 = （本期 − 上年同期）÷ 上年同期。", "Year-on-year growth = (this period − same period last year) ÷ same period last year."),
    ("event.UnitRegistered", "单位登记", "Unit registered"),
    ("event.FundOpened", "资金开设", "Fund opened"),
    ("event.ApprovalThresholdSet", "审批限额设定", "Approval threshold set"),
    ("event.BeneficiaryRegistered", "受助对象登记", "Beneficiary registered"),
    ("event.AppropriationCommitted", "资金下达", "Appropriation committed"),
    ("event.AppropriationReceived", "资金到位", "Appropriation received"),
    ("event.LoanDisbursed", "借款发放", "Loan disbursed"),
    ("event.LoanRepaid", "借款还款", "Loan repaid"),
    ("event.LoanRescheduled", "借款展期", "Loan rescheduled"),
    ("event.LoanWrittenOff", "借款核销", "Loan written off"),
    ("event.GrantPaid", "补助发放", "Grant paid"),
    ("event.HousingGrantAwarded", "安居补助核定", "Housing grant awarded"),
    ("event.HousingInstalmentPaid", "安居补助拨付", "Housing instalment paid"),
    ("event.FollowUpVisitRecorded", "跟踪回访", "Follow-up visit recorded"),
    ("event.BursaryAwarded", "助学金核定", "Bursary awarded"),
    ("event.BursaryInstalmentPaid", "助学金发放", "Bursary instalment paid"),
    ("event.CampaignOpened", "慰问活动开设", "Campaign opened"),
    ("event.CondolencePaid", "慰问金发放", "Condolence paid"),
    ("event.PremiumCollected", "保费缴纳", "Premium collected"),
    ("event.ClaimPaid", "理赔支付", "Claim paid"),
    ("event.ClaimsReserveEstimated", "未决赔款估计", "Claims reserve estimated"),
    ("event.PaymentRequested", "付款申请", "Payment requested"),
    ("event.PaymentApproved", "付款批准", "Payment approved"),
    ("event.PaymentRejected", "付款驳回", "Payment rejected"),
    ("event.PaymentRequestExpired", "付款申请过期", "Payment request expired"),
    ("event.PeriodClosed", "期间结账", "Period closed"),
    ("event.EventReversed", "冲销", "Entry reversed"),
    ("event.UserRegistered", "用户登记", "User registered"),
    ("event.UserRoleChanged", "用户角色变更", "User role changed"),
    ("event.UserDisabled", "用户停用", "User disabled"),
    ("event.TokenIssued", "令牌签发", "Token issued"),
    ("event.TokenRevoked", "令牌吊销", "Token revoked"),
    ("event.PersonalDataAccessGranted", "授予个人信息查阅权", "Personal-data access granted"),
    ("event.PersonalDataAccessWithdrawn", "收回个人信息查阅权", "Personal-data access withdrawn"),
    ("event.PersonalDataAccessed", "查阅个人信息", "Personal data accessed"),
    ("event.BeneficiaryRestricted", "限制处理", "Beneficiary restricted"),
    ("event.BeneficiaryRestrictionLifted", "解除限制", "Restriction lifted"),
    ("event.BeneficiaryErased", "个人信息删除", "Beneficiary erased"),
    ("error.title", "出错了", "Something went wrong"),
    ("error.back", "返回首页", "Back to the workspace"),
    ("error.detail", "详情", "Detail"),
    ("error.code", "代码", "Code"),
    ("error.csrf", "表单已过期或来源不明（CSRF 校验失败）。请刷新页面后重新提交。", "The form has expired or did not come from this site (CSRF check failed). Reload the page and submit again."),
    ("error.not_found", "没有这个页面。", "There is no such page."),
    ("problem.generic", "账本拒绝了这个请求。", "The ledger refused the request."),
    ("problem.token_missing", "没有令牌，请登录。", "No token: sign in."),
    ("problem.token_malformed", "令牌格式不对：应以 wlt_ 开头。", "The token is malformed: it starts with wlt_."),
    ("problem.token_unknown", "令牌无效：请核对，或请管理员重新签发。", "Unknown token: check it, or ask an administrator for a new one."),
    ("problem.token_revoked", "令牌已被吊销，请向管理员申请新令牌。", "The token was revoked; ask an administrator for a new one."),
    ("problem.token_expired", "令牌已过期，请向管理员申请新令牌。", "The token has expired; ask an administrator for a new one."),
    ("problem.user_disabled", "该用户已停用。", "The user is disabled."),
    ("problem.unknown_user", "没有这个用户。", "No such user."),
    ("problem.not_permitted", "您的角色不能办理此事项。", "Your role may not do this."),
    ("problem.out_of_scope", "超出您的单位范围。", "This lies outside your unit's scope."),
    ("problem.insufficient_funds", "资金不足：该级次的可用余额不够支付。", "Insufficient funds: the tier's available cash does not cover the payment."),
    ("problem.commitment_exceeded", "到位资金超过已下达金额。", "More would arrive than was committed."),
    ("problem.amount_zero", "金额不能为零。", "The amount must not be zero."),
    ("problem.amount_empty", "请填写金额，如 1234.56。", "Type an amount, such as 1234.56."),
    ("problem.amount_negative", "金额不能为负数。", "Amounts are entered as positive figures."),
    ("problem.amount_exponent", "不要用科学计数法，请写出完整数字。", "Do not use exponent notation; type the figure in full."),
    ("problem.amount_malformed", "这不是金额；请写 1234.56、1,234.56、616.8万 或 1.32亿。", "Not an amount; type 1234.56, 1,234.56, 616.8万 or 1.32亿."),
    ("problem.amount_too_many_decimals", "金额最多到分（两位小数），账本从不四舍五入。", "At most two decimals of yuan (分); amounts are never rounded."),
    ("problem.amount_overflow", "金额超过上限。", "The amount exceeds the maximum."),
    ("problem.tier_shares_mismatch", "各级承担金额之和与总额不符。", "The tier shares do not add up to the amount."),
    ("problem.shares_empty", "至少填写一个级次的承担金额。", "Give at least one tier's share."),
    ("problem.shares_duplicate_tier", "同一级次出现了两次。", "A tier appears twice."),
    ("problem.shares_zero", "承担金额不能为零；不承担的级次请留空。", "A share must not be zero; leave a tier empty when it pays nothing."),
    ("problem.text_invalid", "文字不符合要求（太长或含控制字符）。", "The text is not accepted (too long or with control characters)."),
    ("problem.year_invalid", "年份不在允许范围内。", "The year is outside the allowed range."),
    ("problem.unknown_unit", "没有这个单位。", "No such unit."),
    ("problem.unknown_fund", "没有这项资金。", "No such fund."),
    ("problem.programme_mismatch", "这项资金不属于该项目。", "The fund belongs to another programme."),
    ("problem.unknown_beneficiary", "没有这个受助对象编号，请先登记。", "No such beneficiary; register them first."),
    ("problem.beneficiary_outside_fund_unit", "受助对象不在该资金所属单位范围内。", "The beneficiary is outside the fund's unit."),
    ("problem.unknown_loan", "没有这笔借款。", "No such loan."),
    ("problem.loan_exists", "借款编号已存在。", "The loan id exists already."),
    ("problem.loan_not_active", "这笔借款已结清或已核销。", "The loan is no longer active."),
    ("problem.repayment_exceeds_outstanding", "还款超过借款余额。", "The repayment exceeds the outstanding principal."),
    ("problem.loan_term_invalid", "借款期限不在允许范围内。", "The loan term is outside the allowed range."),
    ("problem.loan_grace_invalid", "宽限期不在允许范围内。", "The grace period is outside the allowed range."),
    ("problem.loan_rate_invalid", "利率不在允许范围内。", "The rate is outside the allowed range."),
    ("problem.unknown_award", "没有这个核定编号。", "No such award."),
    ("problem.award_exists", "核定编号已存在。", "The award id exists already."),
    ("problem.award_kind_mismatch", "核定类型不符（安居与助学不能混用）。", "The award is of another kind (housing vs bursary)."),
    ("problem.duplicate_bursary", "该学生本学年在该级次已有助学金，不能重复资助。", "The student already has a bursary for this academic year and tier."),
    ("problem.instalment_exceeds_award", "分期金额超过核定余额。", "The instalment exceeds what remains of the award."),
    ("problem.bursary_years_invalid", "资助年限应为 1 至 8 年。", "A bursary runs 1 to 8 years."),
    ("problem.unknown_campaign", "没有这个慰问活动。", "No such campaign."),
    ("problem.campaign_exists", "慰问活动编号已存在。", "The campaign id exists already."),
    ("problem.claim_payer_mismatch", "赔付方与该资金的承保方式不符。", "The payer does not match the fund's insurance model."),
    ("problem.premium_tax_inconsistent", "税后保费不能大于含税保费。", "The premium after tax cannot exceed the premium including tax."),
    ("problem.coverage_invalid", "保障期限不正确。", "The coverage period is not valid."),
    ("problem.unknown_request", "没有这个待审批申请（可能已处理）。", "No such pending request (it may have been handled)."),
    ("problem.self_approval", "不能批准本人提交的申请。", "One's own request cannot be approved."),
    ("problem.request_expired", "申请已过审批期限。", "The request has expired."),
    ("problem.period_closed", "该期间已结账，不能再记录。", "The period is closed."),
    ("problem.effective_date_in_future", "业务日期不能晚于今天。", "The business date cannot be in the future."),
    ("problem.beneficiary_restricted", "该受助对象已被限制处理。", "The beneficiary is restricted."),
    ("problem.beneficiary_erased", "该受助对象的个人信息已删除。", "The beneficiary's personal information is erased."),
    ("problem.personal_digits", "摘要或理由中含有 11 位以上的连续数字（疑似个人信息），请删除。", "A memo or reason holds 11 or more digits in a row (personal information?); remove them."),
    ("problem.command_id_conflict", "这个幂等键已用于另一条记录，请刷新表单后重新填写。", "This idempotency key was used for another command; reload the form."),
    ("problem.invalid_input", "输入不符合要求。", "The input is not valid."),
    ("problem.invalid_body", "输入不符合要求。", "The input is not valid."),
    ("problem.invalid_id", "编号只能包含字母、数字、- _ .，最长 64 位，且不能是 11 位以上的数字。", "An id is letters, digits, - _ . (at most 64), never 11 or more digits."),
    ("problem.invalid_number", "请填写整数。", "Type a whole number."),
    ("problem.invalid_date", "日期格式应为 YYYY-MM-DD。", "A date is YYYY-MM-DD."),
    ("problem.required", "此项必填。", "This is required."),
    ("problem.unavailable", "账本暂时不能写入，请稍后用同一表单重试（不会重复付款）。", "The ledger cannot write just now; submit the same form again later (it never pays twice)."),
    ("problem.audit_key_missing", "请填写检索值，或填写起止日期。", "Give a value to search for, or a date range."),
    ("problem.date_range_reversed", "起始日期晚于截止日期。", "The start date is after the end date."),
    ("problem.unknown_position", "没有这个账本位置。", "No such log position."),
    ("problem.internal", "服务器内部错误。", "An internal error of the server."),
];

fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static TABLE: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        MESSAGES
            .iter()
            .map(|&(key, zh, en)| (key, (zh, en)))
            .collect()
    })
}

/// Whether the table has the key.
pub fn has(key: &str) -> bool {
    table().contains_key(key)
}

/// The text of `key` in `lang`. A missing key is a programmer error that the
/// completeness test catches; in a release build the key itself is shown.
pub fn text(lang: Lang, key: &str) -> &str {
    match table().get(key) {
        Some((zh, en)) => lang.pick(zh, en),
        None => {
            debug_assert!(false, "no text for the key {key}");
            key
        }
    }
}

/// The translator templates use: `tr.t("key")`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn t(&self, key: &str) -> &'static str {
        match table().get(key) {
            Some((zh, en)) => self.lang.pick(zh, en),
            None => {
                debug_assert!(false, "no text for the key {key}");
                "?"
            }
        }
    }

    /// The sentence for an error code, or the generic one.
    pub fn problem(&self, code: &str) -> &'static str {
        let key = format!("problem.{code}");
        if has(&key) {
            self.t(&key)
        } else {
            self.t("problem.generic")
        }
    }

    /// A key built from a prefix and an enum's name (`tier.` + `County`).
    pub fn of(&self, prefix: &str, name: &str) -> String {
        let key = format!("{prefix}{name}");
        if has(&key) {
            self.t(&key).to_string()
        } else {
            name.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_key_is_unique_and_has_both_languages() {
        let mut seen = HashSet::new();
        for (key, zh, en) in MESSAGES {
            assert!(seen.insert(key), "the key {key} appears twice");
            assert!(!zh.trim().is_empty(), "{key} has no Chinese");
            assert!(!en.trim().is_empty(), "{key} has no English");
        }
    }

    #[test]
    fn the_chinese_is_chinese() {
        // Every Chinese text but the language switch and a few proper names holds CJK.
        for (key, zh, _) in MESSAGES {
            if *key == "lang.switch" {
                continue;
            }
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{key}: {zh} is not Chinese"
            );
        }
    }

    #[test]
    fn every_key_the_templates_and_code_use_is_in_the_table() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/");
        let mut sources = Vec::new();
        for sub in ["templates", "src"] {
            for entry in std::fs::read_dir(format!("{dir}{sub}")).unwrap() {
                let path = entry.unwrap().path();
                sources.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
            }
        }
        let mut used = 0;
        for (path, text) in &sources {
            for marker in ["t(\"", "key: \""] {
                let mut rest = text.as_str();
                while let Some(at) = rest.find(marker) {
                    rest = &rest[at + marker.len()..];
                    let key = &rest[..rest.find('"').unwrap()];
                    let plain = key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
                    if plain && key.contains('.') && !key.ends_with('.') {
                        used += 1;
                        assert!(
                            has(key),
                            "{} uses the key {key}, which has no text",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(used > 100, "only {used} keys found: the scan is broken");
    }

    #[test]
    fn every_documented_error_code_has_a_sentence_in_both_languages() {
        // The codes of the API's error table (docs/API.md) a page can meet.
        let api = include_str!("../../../docs/API.md");
        let table = api
            .split("| status | meaning | codes |")
            .nth(1)
            .expect("the error table of docs/API.md");
        let table = &table[..table.find("\n\n").unwrap()];
        let mut missing = Vec::new();
        for row in table.lines().filter(|l| l.starts_with("| 4")) {
            for code in row.split('`').skip(1).step_by(2) {
                let form_codes = [
                    "insufficient_funds",
                    "self_approval",
                    "period_closed",
                    "unknown_fund",
                ];
                let rows_for_pages = row.starts_with("| 401") || row.starts_with("| 403");
                if (rows_for_pages || form_codes.contains(&code))
                    && !has(&format!("problem.{code}"))
                {
                    missing.push(code.to_string());
                }
            }
        }
        // And every rejection code of docs/DOMAIN.md that a payment form can meet.
        let domain = include_str!("../../../docs/DOMAIN.md");
        for code in [
            "insufficient_funds",
            "duplicate_bursary",
            "tier_shares_mismatch",
            "unknown_beneficiary",
            "unknown_loan",
            "repayment_exceeds_outstanding",
            "self_approval",
            "effective_date_in_future",
        ] {
            assert!(
                domain.contains(&format!("`{code}`")),
                "docs/DOMAIN.md no longer lists {code}"
            );
            if !has(&format!("problem.{code}")) {
                missing.push(code.to_string());
            }
        }
        assert!(missing.is_empty(), "no sentence for {missing:?}");
    }
}
