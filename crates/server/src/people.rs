//! The registry's endpoints: beneficiaries with their personal information, kept in the
//! vault beside the log (docs/PRIVACY.md). Every disclosure or change is recorded in
//! the log first ([`crate::registry`]); personal information never travels in a URL.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use ledger_domain::{BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, UnitCode, UserId};
use ledger_engine::Accepted;
use ledger_projections::{AccessEntry, AccessFilter, DateRange, Page, PageRequest};
use ledger_registry::{
    Address, BankAccount, ContactUpdate, FieldUpdate, MasterKey, PersonalData, PersonalDataError,
    Phone, RecordStatus, Vault, VaultError,
};
use ledger_store::Backend;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::ProblemBody;
use crate::reads::{Id, Params};
use crate::registry::{self, Act, Registration, RegistryError, Target};
use crate::writes::{created, idempotency_key, parse_body, CommandAccepted};
use crate::{App, Caller, Problem};

/// The registry as the server holds it.
#[derive(Debug)]
pub struct RegistryHandle {
    pub vault: Arc<Vault>,
    /// The data directory, which a new master key file must lie outside of.
    pub data_dir: PathBuf,
}

pub(crate) const PERSONAL: &str = "Reading or changing personal information needs the separate permission (GrantPersonalDataAccess) and the beneficiary's unit within the caller's scope; contact changes are for clerks. Each call is recorded in the log before anything is disclosed.";

impl From<RegistryError> for Problem {
    fn from(error: RegistryError) -> Self {
        let error = match error {
            RegistryError::Engine(e) => return e.into(),
            other => other,
        };
        let status = match &error {
            RegistryError::NotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            RegistryError::Engine(_) => unreachable!("answered above"),
            RegistryError::IdNumber(_) => StatusCode::BAD_REQUEST,
            RegistryError::IdNumberNotFound => StatusCode::NOT_FOUND,
            RegistryError::Vault(e) => match e {
                VaultError::NotFound { .. } => StatusCode::NOT_FOUND,
                VaultError::Erased { .. } => StatusCode::GONE,
                VaultError::InvalidBeneficiaryId { .. } => StatusCode::BAD_REQUEST,
                VaultError::AlreadyStored { .. }
                | VaultError::SameKey { .. }
                | VaultError::RotationRunning { .. } => StatusCode::CONFLICT,
                VaultError::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                VaultError::Poisoned { .. } | VaultError::Io { .. } | VaultError::Full { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        };
        Problem::new(status, error.code(), error.to_string())
    }
}

fn invalid(error: PersonalDataError) -> Problem {
    Problem::bad_request(error.code(), format!("{}: {error}", error.field()))
}

fn registry_of<B: Backend>(app: &App<B>) -> Result<Arc<RegistryHandle>, Problem> {
    app.registry
        .clone()
        .ok_or_else(|| RegistryError::NotConfigured.into())
}

/// Runs a registry step (blocking: the vault syncs files) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Problem::internal(format!("the registry step failed: {e}")))?
        .map_err(Problem::from)
}

fn act<B: Backend>(app: &App<B>, caller: &Caller, command_id: String) -> Act {
    Act {
        actor: caller.user.clone(),
        command_id,
        effective_date: app.today(),
        memo: String::new(),
    }
}

/// Personal information is never cached by a browser or a proxy.
fn private(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /api/v1/beneficiaries`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterRequest {
    /// The unit (village, township…) the beneficiary belongs to.
    #[schema(value_type = String)]
    unit: UnitCode,
    kind: BeneficiaryKind,
    #[serde(default)]
    categories: BTreeSet<BeneficiaryCategory>,
    /// Full name, 1–50 characters.
    name: String,
    /// The 18-character resident ID number; spaces and a lower-case x are accepted.
    id_number: String,
    /// A mainland mobile (11 digits) or a landline with its area code.
    phone: Option<String>,
    /// 10–30 digits.
    bank_account: Option<String>,
    address: Option<String>,
}

/// A registration's answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct RegisterAnswer {
    /// The opaque id to use in every payment.
    beneficiary: String,
    /// False when the ID number was registered before: `beneficiary` is that person
    /// and nothing was recorded.
    created: bool,
    /// Where `BeneficiaryRegistered` was appended.
    first_position: Option<u64>,
}

/// Registers a beneficiary with their personal information: the log records the opaque
/// id, the unit, kind and categories; the vault keeps the rest, encrypted. The same ID
/// number twice (however it is spaced) returns the existing beneficiary with 200.
#[utoipa::path(post, path = "/api/v1/beneficiaries", tag = "registry", security(("bearer" = [])),
    description = "Clerks, within their scope.",
    params(("Idempotency-Key" = String, Header, description = "Required; a retry returns the same beneficiary")),
    request_body = RegisterRequest,
    responses(
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 201, description = "Registered", body = RegisterAnswer),
        (status = 200, description = "That ID number is registered already", body = RegisterAnswer),
        (status = 400, description = "A field that is not valid (the code names the rule, the detail the field)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not a clerk of that unit", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A domain rule refuses it (unknown unit, closed period)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The registry runs without a master key, or writes are unavailable", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn register<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let registry = registry_of(&app)?;
    let request: RegisterRequest = parse_body(body)?;
    let data = PersonalData::parse(
        &request.name,
        &request.id_number,
        request.phone.as_deref(),
        request.bank_account.as_deref(),
        request.address.as_deref(),
        app.today(),
    )
    .map_err(invalid)?;
    let registration = Registration {
        unit: request.unit,
        kind: request.kind,
        categories: request.categories,
        data,
    };
    let act = act(&app, &caller, key);
    let engine = Arc::clone(&app.engine);
    let registered =
        blocking(move || registry::register(&engine, &registry.vault, &act, registration)).await?;
    let status = if registered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let answer = RegisterAnswer {
        beneficiary: registered.beneficiary.to_string(),
        created: registered.created,
        first_position: registered.accepted.map(|a| a.first_position),
    };
    Ok((status, Json(answer)).into_response())
}

/// A beneficiary as the ledger and the vault know them, without personal information.
#[derive(Serialize, ToSchema)]
pub(crate) struct BeneficiaryAnswer {
    beneficiary: String,
    #[schema(value_type = String)]
    unit: UnitCode,
    kind: BeneficiaryKind,
    categories: BTreeSet<BeneficiaryCategory>,
    /// `active`, `restricted` (stored only) or `erased`.
    status: ledger_domain::BeneficiaryStatus,
    /// `stored`, `erased`, or `none` (registered without personal information, or the
    /// ledger runs without a registry).
    personal_data: &'static str,
}

/// A beneficiary's status: whether they may be paid, and whether the vault holds or
/// held their personal information. Discloses none of it.
#[utoipa::path(get, path = "/api/v1/beneficiaries/{beneficiary}", tag = "registry", security(("bearer" = [])),
    description = crate::openapi::READERS,
    params(("beneficiary" = String, Path, description = "The opaque id")),
    responses(
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 200, description = "The beneficiary", body = BeneficiaryAnswer),
        (status = 403, description = "Outside the caller's scope", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such beneficiary", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn beneficiary<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(id): Id<BeneficiaryId>,
) -> Result<Response, Problem> {
    let known = app.engine.read(|m| {
        m.state().beneficiary(&id).map(|b| {
            caller.may_read_unit(m.state(), b.unit()).map(|()| {
                (
                    b.unit().clone(),
                    b.kind(),
                    b.categories().clone(),
                    b.status(),
                )
            })
        })
    });
    let (unit, kind, categories, status) = known.ok_or_else(|| {
        Problem::not_found("unknown_beneficiary", format!("no beneficiary {id}"))
    })??;
    let personal_data = match &app.registry {
        None => "none",
        Some(r) => match r.vault.status(id.as_str()).map_err(RegistryError::from)? {
            Some(RecordStatus::Stored { .. }) => "stored",
            Some(RecordStatus::Erased { .. }) => "erased",
            None => "none",
        },
    };
    Ok(Json(BeneficiaryAnswer {
        beneficiary: id.to_string(),
        unit,
        kind,
        categories,
        status,
        personal_data,
    })
    .into_response())
}

/// `POST /api/v1/personal-data/disclosures`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DisclosureRequest {
    /// The beneficiary's opaque id; or
    beneficiary: Option<String>,
    /// an ID number, matched exactly (never put it in a URL).
    id_number: Option<String>,
    /// Why the data is needed, 1–500 characters; recorded in the log.
    purpose: String,
}

/// Personal information disclosed.
#[derive(Serialize, ToSchema)]
pub(crate) struct DisclosureAnswer {
    beneficiary: String,
    name: String,
    id_number: String,
    birth_date: NaiveDate,
    /// `male` or `female`, from the ID number.
    sex: &'static str,
    phone: Option<String>,
    bank_account: Option<String>,
    address: Option<String>,
    /// The log position of the `PersonalDataAccessed` event that recorded this read.
    access_position: u64,
}

/// Discloses a beneficiary's personal information, by id or by ID number, after
/// recording who asked, for whom and why.
#[utoipa::path(post, path = "/api/v1/personal-data/disclosures", tag = "registry", security(("bearer" = [])),
    description = PERSONAL,
    params(("Idempotency-Key" = String, Header, description = "Required: the access record's command id, so that a retry discloses again without recording the read twice")),
    request_body = DisclosureRequest,
    responses(
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 200, description = "The data (Cache-Control: no-store)", body = DisclosureAnswer),
        (status = 400, description = "Neither or both of beneficiary and id_number, an invalid ID number, no purpose", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Without the permission (personal_data_not_permitted) or outside the scope", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No personal information for that id or number", body = ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "Erased", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Restricted or erased (beneficiary_restricted, beneficiary_erased)", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn disclose<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let registry = registry_of(&app)?;
    let request: DisclosureRequest = parse_body(body)?;
    let target = match (request.beneficiary, request.id_number) {
        (Some(b), None) => Target::Beneficiary(
            BeneficiaryId::new(b).map_err(|e| Problem::bad_request("invalid_id", e.to_string()))?,
        ),
        (None, Some(n)) => Target::IdNumber(n),
        _ => {
            return Err(Problem::bad_request(
                "disclosure_target_invalid",
                "give exactly one of beneficiary (the opaque id) or id_number",
            ))
        }
    };
    let act = act(&app, &caller, key);
    let engine = Arc::clone(&app.engine);
    let purpose = request.purpose;
    let d = blocking(move || registry::disclose(&engine, &registry.vault, &act, &target, &purpose))
        .await?;
    let data = &d.data;
    let answer = DisclosureAnswer {
        beneficiary: d.beneficiary.to_string(),
        name: data.name().as_str().to_string(),
        id_number: data.id_number().as_str().to_string(),
        birth_date: data.id_number().birth_date(),
        sex: match data.id_number().sex() {
            ledger_registry::Sex::Male => "male",
            ledger_registry::Sex::Female => "female",
        },
        phone: data.phone().map(|p| p.as_str().to_string()),
        bank_account: data.bank_account().map(|b| b.as_str().to_string()),
        address: data.address().map(|a| a.as_str().to_string()),
        access_position: d.access_position,
    };
    Ok(private(Json(answer).into_response()))
}

/// Absent = keep, `null` = remove, a string = replace.
fn field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /api/v1/beneficiaries/{beneficiary}/contact`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactRequest {
    /// Absent: keep; null: remove; a string: replace.
    #[serde(default, deserialize_with = "field")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "field")]
    #[schema(value_type = Option<String>)]
    bank_account: Option<Option<String>>,
    #[serde(default, deserialize_with = "field")]
    #[schema(value_type = Option<String>)]
    address: Option<Option<String>>,
    /// Why, 1–500 characters; recorded in the log.
    purpose: String,
}

fn update<T>(
    value: Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, PersonalDataError>,
) -> Result<FieldUpdate<T>, Problem> {
    Ok(match value {
        None => FieldUpdate::Keep,
        Some(None) => FieldUpdate::Clear,
        Some(Some(text)) => FieldUpdate::Set(parse(&text).map_err(invalid)?),
    })
}

/// Changes a beneficiary's contact data (phone, bank account, address). The old
/// version is not kept in plaintext anywhere.
#[utoipa::path(patch, path = "/api/v1/beneficiaries/{beneficiary}/contact", tag = "registry", security(("bearer" = [])),
    description = PERSONAL,
    params(("beneficiary" = String, Path, description = "The opaque id"),
        ("Idempotency-Key" = String, Header, description = "Required")),
    request_body = ContactRequest,
    responses(
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 201, description = "Changed; the access record's position", body = CommandAccepted),
        (status = 400, description = "A field that is not valid, or nothing to change", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Without the permission, not a clerk, or outside the scope", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No personal information for that id", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Restricted or erased", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update_contact<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(id): Id<BeneficiaryId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let registry = registry_of(&app)?;
    let request: ContactRequest = parse_body(body)?;
    let change = ContactUpdate {
        phone: update(request.phone, Phone::parse)?,
        bank_account: update(request.bank_account, BankAccount::parse)?,
        address: update(request.address, Address::parse)?,
    };
    if change.is_empty() {
        return Err(Problem::bad_request(
            "nothing_to_change",
            "give at least one of phone, bank_account or address (null removes it)",
        ));
    }
    let act = act(&app, &caller, key.clone());
    let engine = Arc::clone(&app.engine);
    let purpose = request.purpose;
    let accepted = blocking(move || {
        registry::update_contact(&engine, &registry.vault, &act, &id, &change, &purpose)
    })
    .await?;
    Ok(accepted_response(&key, accepted))
}

fn accepted_response(key: &str, accepted: Accepted) -> Response {
    created(CommandAccepted::new(key, accepted), accepted.duplicate)
}

/// A reason, for restriction, lifting and erasure.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonRequest {
    /// 1–500 characters, recorded in the log (no personal information).
    reason: String,
}

/// What an admin does to a beneficiary's personal information.
enum Measure {
    Restrict,
    Lift,
    Erase,
}

async fn measure<B: Backend + 'static>(
    app: Arc<App<B>>,
    caller: Caller,
    id: BeneficiaryId,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    measure: Measure,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let request: ReasonRequest = parse_body(body)?;
    let act = act(&app, &caller, key.clone());
    let engine = Arc::clone(&app.engine);
    let vault = app.registry.as_ref().map(|r| Arc::clone(&r.vault));
    let accepted = blocking(move || {
        let command = match measure {
            Measure::Restrict => ledger_domain::Command::RestrictBeneficiary {
                beneficiary: id,
                reason: request.reason,
            },
            Measure::Lift => ledger_domain::Command::LiftBeneficiaryRestriction {
                beneficiary: id,
                reason: request.reason,
            },
            Measure::Erase => {
                // Without a registry the erasure is still recorded; the vault's part is
                // done when the ledger next opens with its key (`registry::reconcile`).
                return match vault {
                    Some(vault) => registry::erase(&engine, &vault, &act, &id, &request.reason),
                    None => Ok(act.submit(
                        &engine,
                        ledger_domain::Command::EraseBeneficiary {
                            beneficiary: id,
                            reason: request.reason,
                        },
                    )?),
                };
            }
        };
        Ok(act.submit(&engine, command)?)
    })
    .await?;
    Ok(accepted_response(&key, accepted))
}

/// Restricts a beneficiary's personal information to storage (PIPL Art. 47 ¶2): no
/// reads, no new payments, until lifted.
#[utoipa::path(post, path = "/api/v1/beneficiaries/{beneficiary}/restriction", tag = "registry", security(("bearer" = [])),
    description = "Admins, within their scope.",
    params(("beneficiary" = String, Path, description = "The opaque id"),
        ("Idempotency-Key" = String, Header, description = "Required")),
    request_body = ReasonRequest,
    responses(
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 201, description = "Restricted", body = CommandAccepted),
        (status = 403, description = "Not an admin of that unit", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Already restricted", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or erased", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn restrict<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(id): Id<BeneficiaryId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    measure(app, caller, id, headers, body, Measure::Restrict).await
}

/// Lifts a restriction.
#[utoipa::path(post, path = "/api/v1/beneficiaries/{beneficiary}/restriction/lift", tag = "registry", security(("bearer" = [])),
    description = "Admins, within their scope.",
    params(("beneficiary" = String, Path, description = "The opaque id"),
        ("Idempotency-Key" = String, Header, description = "Required")),
    request_body = ReasonRequest,
    responses(
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 201, description = "Lifted", body = CommandAccepted),
        (status = 403, description = "Not an admin of that unit", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Not restricted, unknown or erased", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn lift<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(id): Id<BeneficiaryId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    measure(app, caller, id, headers, body, Measure::Lift).await
}

/// Erases a beneficiary's personal information for good: the erasure is recorded, then
/// the vault destroys the person's key. Payments, balances, reports and the hash chain
/// stay as they were.
#[utoipa::path(post, path = "/api/v1/beneficiaries/{beneficiary}/erasure", tag = "registry", security(("bearer" = [])),
    description = "Admins, within their scope.",
    params(("beneficiary" = String, Path, description = "The opaque id"),
        ("Idempotency-Key" = String, Header, description = "Required")),
    request_body = ReasonRequest,
    responses(
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 201, description = "Erased", body = CommandAccepted),
        (status = 403, description = "Not an admin of that unit", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or already erased", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn erase<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(id): Id<BeneficiaryId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    measure(app, caller, id, headers, body, Measure::Erase).await
}

/// `GET /api/v1/personal-data/access-log`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AccessLogQuery {
    /// Entries about this beneficiary.
    beneficiary: Option<String>,
    /// Entries by this member of staff, or granting or withdrawing their permission.
    user: Option<String>,
    /// First effective date (inclusive).
    from: Option<NaiveDate>,
    /// Last effective date (inclusive).
    to: Option<NaiveDate>,
    #[serde(default)]
    offset: u64,
    /// 1 to 1,000; default 100.
    limit: Option<u32>,
}

/// Who read or changed whose personal information, when and why; grants and
/// withdrawals of the permission; restrictions and erasures.
#[utoipa::path(get, path = "/api/v1/personal-data/access-log", tag = "registry", security(("bearer" = [])),
    description = "Auditors and admins of the whole ledger.",
    params(AccessLogQuery),
    responses(
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 200, description = "A page of entries, in log order", body = Page<AccessEntry>),
        (status = 400, description = "A bad id, date or page", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not an auditor or whole-ledger admin", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn access_log<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Params(q): Params<AccessLogQuery>,
) -> Result<Response, Problem> {
    caller.must_read_everything("the access log of personal information")?;
    let bad = |e: ledger_domain::IdError| Problem::bad_request("invalid_id", e.to_string());
    let dates = match (q.from, q.to) {
        (None, None) => None,
        (from, to) => Some(DateRange::new(
            from.unwrap_or(NaiveDate::from_ymd_opt(1980, 1, 1).expect("a date")),
            to.unwrap_or_else(|| app.today()),
        )?),
    };
    let filter = AccessFilter {
        beneficiary: q
            .beneficiary
            .map(BeneficiaryId::new)
            .transpose()
            .map_err(bad)?,
        user: q.user.map(UserId::new).transpose().map_err(bad)?,
        dates,
    };
    let page = PageRequest::new(q.offset, q.limit.unwrap_or(100))?;
    let head = app.engine.head().next_position;
    let entries = app
        .engine
        .projections_after(head, app.limits.read_wait, |p| {
            p.personal_data.entries(&filter, page)
        })
        .map_err(|e| Problem::internal(format!("the query failed: {e}")))?;
    Ok(Json(entries).into_response())
}

/// The registry's state for operators.
#[derive(Serialize, ToSchema)]
pub(crate) struct RegistryAnswer {
    /// False when the server runs without a master key.
    configured: bool,
    stored: u64,
    erased: u64,
    /// The master key's public id (16 hex digits).
    key_id: Option<String>,
    /// `aes-256-gcm` or `sm4-gcm`, for new records.
    cipher: Option<&'static str>,
    /// Keys still wrapped by the old master key while a rotation runs.
    rotation_keys_remaining: Option<u64>,
}

/// The registry's counts, key id and cipher (no personal information).
#[utoipa::path(get, path = "/api/v1/registry", tag = "registry", security(("bearer" = [])),
    description = "Auditors and admins of the whole ledger.",
    responses(
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 200, description = "The registry", body = RegistryAnswer),
        (status = 403, description = "Not an auditor or whole-ledger admin", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn registry_status<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
) -> Result<Response, Problem> {
    caller.must_read_everything("the registry's state")?;
    let answer = match &app.registry {
        None => RegistryAnswer {
            configured: false,
            stored: 0,
            erased: 0,
            key_id: None,
            cipher: None,
            rotation_keys_remaining: None,
        },
        Some(r) => {
            let stats = r.vault.stats().map_err(RegistryError::from)?;
            RegistryAnswer {
                configured: true,
                stored: stats.stored,
                erased: stats.erased,
                key_id: Some(stats.key_id.to_string()),
                cipher: Some(stats.cipher_for_new_records.name()),
                rotation_keys_remaining: stats.rotation.map(|r| r.keys_remaining),
            }
        }
    };
    Ok(Json(answer).into_response())
}

/// `POST /api/v1/registry/rotation`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotationRequest {
    /// A new key file on the server's machine, outside the data directory, mode 600
    /// (`welfare-ledger key generate PATH`).
    new_key_file: String,
}

/// A finished rotation.
#[derive(Serialize, ToSchema)]
pub(crate) struct RotationAnswer {
    from_key_id: String,
    to_key_id: String,
    keys_rewrapped: u64,
    elapsed_ms: u64,
}

/// Rotates the master key while the server keeps serving: every person's key is
/// re-wrapped by the new master key. Start the server with the new key file from now on.
#[utoipa::path(post, path = "/api/v1/registry/rotation", tag = "registry", security(("bearer" = [])),
    description = "Admins of the whole ledger.",
    request_body = RotationRequest,
    responses(
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 200, description = "Rotated", body = RotationAnswer),
        (status = 400, description = "The key file is unreadable, inside the data directory, readable by others, or not a key", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not a whole-ledger admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The same key, or a rotation already running", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn rotate<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    if !(caller.role() == ledger_domain::Role::Admin && caller.scope().is_none()) {
        return Err(Problem::forbidden(
            "not_permitted",
            "rotating the master key is for admins of the whole ledger",
        ));
    }
    let registry = registry_of(&app)?;
    let request: RotationRequest = parse_body(body)?;
    let key = MasterKey::from_file(request.new_key_file.as_ref(), &registry.data_dir)
        .map_err(|e| Problem::bad_request(e.code(), e.to_string()))?;
    let report = blocking(move || Ok(registry.vault.rotate_master_key(key)?)).await?;
    Ok(Json(RotationAnswer {
        from_key_id: report.from.to_string(),
        to_key_id: report.to.to_string(),
        keys_rewrapped: report.slots_rewrapped,
        elapsed_ms: report.elapsed_ms,
    })
    .into_response())
}
