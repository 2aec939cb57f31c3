//! Resource requests: resolve the resource, check scope, classify the verb, authorize,
//! and call the [`ApiService`](crate::service::ApiService); then encode the answer (JSON
//! bytes as stored, a Table, a watch stream or a log stream).

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use corral_api::resource::find_resource;
use corral_api::{ApiError, ResourceInfo};
use corral_patch::PatchType;
use corral_printers::IncludeObject;
use http::header::ACCEPT;
use http::{HeaderMap, Method, StatusCode};

use super::body;
use super::negotiate::{ObjectFormat, object_format};
use super::query::Query;
use super::respond::{self, RequestLabels};
use super::route::ResourcePath;
use super::{HttpState, list, table, watch};
use crate::service::{
    Attributes, BodyFormat, Decision, DeleteRequest, Part, ServedObject, Target, UserInfo,
    WriteResult, decode_body, delete_request_from, unsupported_media_type,
};

/// What a request does (upstream's request-info verbs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// The verb of a request, from its method, path and query.
pub fn classify(method: &Method, path: &ResourcePath, query: &Query) -> Result<Verb, ApiError> {
    let named = path.name.is_some();
    Ok(match *method {
        Method::GET | Method::HEAD if named => Verb::Get,
        Method::GET | Method::HEAD if path.legacy_watch || query.is_watch()? => Verb::Watch,
        Method::GET | Method::HEAD => Verb::List,
        Method::POST => Verb::Create,
        Method::PUT if named => Verb::Update,
        Method::PATCH if named => Verb::Patch,
        Method::DELETE if named => Verb::Delete,
        Method::DELETE => Verb::DeleteCollection,
        _ => return Err(ApiError::method_not_allowed()),
    })
}

/// Everything a handler needs about one request.
struct Call<'a> {
    state: &'a HttpState,
    resource: &'static ResourceInfo,
    path: ResourcePath,
    query: Query,
    headers: HeaderMap,
    user: UserInfo,
    target: Target,
}

impl Call<'_> {
    fn format(&self) -> ObjectFormat {
        object_format(
            self.headers
                .get(ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default(),
        )
    }

    fn include(&self) -> Result<IncludeObject, ApiError> {
        self.query.include_object()
    }

    fn subresource(&self) -> Option<&str> {
        self.path.subresource.as_deref()
    }
}

/// Serves one resource request.
pub async fn serve(state: &HttpState, path: ResourcePath, request: Request) -> Response {
    let resource_name = path.resource.clone();
    let (parts, body) = request.into_parts();
    let query = Query::parse(parts.uri.query());
    let user = parts
        .extensions
        .get::<UserInfo>()
        .cloned()
        .unwrap_or_else(UserInfo::anonymous);
    let verb = classify(&parts.method, &path, &query);
    let labels = RequestLabels {
        verb: verb.as_ref().map_or("unknown", |v| v.as_str()),
        resource: resource_name,
    };
    let result = match (resolve(&path), verb) {
        (Ok(resource), Ok(verb)) => {
            let target = Target {
                resource,
                namespace: path.namespace.clone(),
                name: path.name.clone(),
            };
            let call = Call {
                state,
                resource,
                path,
                query,
                headers: parts.headers,
                user,
                target,
            };
            dispatch(call, verb, body).await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let response = result.unwrap_or_else(|e| respond::error(&e));
    respond::labelled(response, labels)
}

/// The served resource a path names, with scope checks (404 like upstream's router).
fn resolve(path: &ResourcePath) -> Result<&'static ResourceInfo, ApiError> {
    let resource = find_resource(&path.group, &path.version, &path.resource)
        .ok_or_else(ApiError::unknown_path)?;
    let namespaced_path = path.namespace.is_some();
    if namespaced_path && !resource.namespaced {
        return Err(ApiError::unknown_path());
    }
    if resource.namespaced && !namespaced_path && path.name.is_some() {
        return Err(ApiError::unknown_path());
    }
    if let Some(sub) = &path.subresource
        && resource.subresource(sub).is_none()
    {
        return Err(ApiError::unknown_path());
    }
    Ok(resource)
}

fn authorize(call: &Call<'_>, verb: Verb) -> Result<(), ApiError> {
    let attributes = Attributes {
        verb: verb.as_str().to_string(),
        group: call.resource.group.to_string(),
        version: call.resource.version.to_string(),
        resource: call.resource.resource.to_string(),
        subresource: call.subresource().unwrap_or_default().to_string(),
        namespace: call.path.namespace.clone().unwrap_or_default(),
        name: call.path.name.clone().unwrap_or_default(),
        path: None,
    };
    match call
        .state
        .service()
        .authorizer()
        .authorize(&call.user, &attributes)
    {
        Decision::Allow => Ok(()),
        Decision::Deny { reason } => Err(crate::service::rbac::forbidden(
            &call.user,
            &attributes,
            &reason,
        )),
    }
}

async fn dispatch(call: Call<'_>, verb: Verb, body: Body) -> Result<Response, ApiError> {
    authorize(&call, verb)?;
    match verb {
        Verb::Get => get(&call).await,
        Verb::List => list(&call).await,
        Verb::Watch => watch_collection(&call),
        Verb::Create => create(&call, body).await,
        Verb::Update => update(&call, body).await,
        Verb::Patch => patch(&call, body).await,
        Verb::Delete => delete(&call, body).await,
        Verb::DeleteCollection => delete_collection(&call, body).await,
    }
}

fn part_of(subresource: Option<&str>) -> Result<Part, ApiError> {
    match subresource {
        None => Ok(Part::Main),
        Some("status") => Ok(Part::Status),
        Some("finalize") => Ok(Part::Finalize),
        Some(_) => Err(ApiError::method_not_allowed()),
    }
}

/// One object as JSON or a one-row Table.
fn object_response(
    call: &Call<'_>,
    code: StatusCode,
    served: &ServedObject,
    table_allowed: bool,
) -> Result<Response, ApiError> {
    if table_allowed
        && call.format() == ObjectFormat::Table
        && let Some(bytes) =
            table::object_table_bytes(served, call.include()?, jiff::Timestamp::now())?
    {
        return Ok(respond::json(code, bytes));
    }
    Ok(respond::json(code, served.to_bytes()))
}

fn write_response(call: &Call<'_>, result: &WriteResult) -> Result<Response, ApiError> {
    let code = if result.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = object_response(call, code, &result.object, false)?;
    respond::add_warnings(&mut response, &result.warnings);
    Ok(response)
}

async fn get(call: &Call<'_>) -> Result<Response, ApiError> {
    if crate::service::is_computed(call.target.resource) {
        return get_computed(call);
    }
    match call.subresource() {
        None | Some("status") => {
            let served = call.state.service().get(&call.target)?;
            object_response(call, StatusCode::OK, &served, true)
        }
        Some("log") => {
            let options = call.query.log_options()?;
            let stream = call.state.service().logs(&call.target, &options)?;
            Ok(respond::with_body(
                StatusCode::OK,
                "text/plain",
                Body::from_stream(stream),
            ))
        }
        Some(_) => Err(ApiError::method_not_allowed()),
    }
}

async fn list(call: &Call<'_>) -> Result<Response, ApiError> {
    if call.subresource().is_some() {
        return Err(ApiError::method_not_allowed());
    }
    if crate::service::is_computed(call.target.resource) {
        return list_computed(call);
    }
    let options = call.query.list_options()?;
    let page = call
        .state
        .service()
        .list_async(&call.target, &options)
        .await?;
    if call.format() == ObjectFormat::Table {
        let bytes = table::list_table(&page, call.include()?, jiff::Timestamp::now())?;
        return Ok(respond::json(StatusCode::OK, bytes));
    }
    Ok(respond::with_body(
        StatusCode::OK,
        "application/json",
        list::body(page),
    ))
}

/// GET of a computed object (`holdings`, `webhookbreakers`): JSON or a one-row Table.
fn get_computed(call: &Call<'_>) -> Result<Response, ApiError> {
    if call.subresource().is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let object = call.state.service().get_computed(&call.target)?;
    if call.format() == ObjectFormat::Table {
        let bytes = table::computed_table(
            call.target.resource,
            std::slice::from_ref(&object),
            None,
            call.include()?,
            jiff::Timestamp::now(),
        );
        return Ok(respond::json(StatusCode::OK, bytes));
    }
    Ok(respond::json(
        StatusCode::OK,
        serde_json::to_vec(&object).unwrap_or_default(),
    ))
}

/// LIST of a computed collection: JSON or a Table.
fn list_computed(call: &Call<'_>) -> Result<Response, ApiError> {
    let page = call.state.service().list_computed(&call.target)?;
    if call.format() == ObjectFormat::Table {
        let bytes = table::computed_table(
            page.resource,
            &page.items,
            Some(page.revision),
            call.include()?,
            jiff::Timestamp::now(),
        );
        return Ok(respond::json(StatusCode::OK, bytes));
    }
    Ok(respond::json(StatusCode::OK, page.to_json()))
}

fn watch_collection(call: &Call<'_>) -> Result<Response, ApiError> {
    let options = call.query.list_options()?;
    let include = call.include()?;
    if crate::service::is_computed(call.target.resource) {
        let service = call.state.service();
        let timeout = options
            .timeout_seconds
            .map(std::time::Duration::from_secs)
            .unwrap_or(service.config().watch_timeout_default);
        let body = watch::computed_body(
            service.clone(),
            call.target.clone(),
            call.format(),
            include,
            timeout,
        );
        return Ok(respond::with_body(StatusCode::OK, "application/json", body));
    }
    let stream = call.state.service().watch(&call.target, &options)?;
    let body = watch::body(stream, call.format(), include);
    Ok(respond::with_body(StatusCode::OK, "application/json", body))
}

async fn create(call: &Call<'_>, body: Body) -> Result<Response, ApiError> {
    let service = call.state.service();
    let dry_run = call.query.dry_run()?;
    match call.subresource() {
        None => {}
        Some("binding") => {
            let decoded = body::object(&call.headers, body).await?;
            let status = service
                .bind(&call.user, &call.target, decoded, dry_run)
                .await?;
            return Ok(respond::json_value(StatusCode::CREATED, &status));
        }
        Some("token") if call.resource.resource == "serviceaccounts" => {
            let value = body::object(&call.headers, body).await?.value;
            let answer = service
                .create_token(&call.user, &call.target, value, dry_run)
                .await?;
            return Ok(respond::json_value(StatusCode::CREATED, &answer));
        }
        Some("eviction") => {
            let decoded = body::object(&call.headers, body).await?;
            let status = service
                .evict(&call.user, &call.target, decoded, dry_run)
                .await?;
            return Ok(respond::json_value(StatusCode::CREATED, &status));
        }
        Some(_) => return Err(ApiError::method_not_allowed()),
    }
    if call.target.name.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let options = call.query.write_options()?;
    let decoded = body::object(&call.headers, body).await?;
    let result = service
        .create(&call.user, &call.target, decoded, &options)
        .await?;
    write_response(call, &result)
}

async fn update(call: &Call<'_>, body: Body) -> Result<Response, ApiError> {
    let part = part_of(call.subresource())?;
    let options = call.query.write_options()?;
    let decoded = body::object(&call.headers, body).await?;
    let result = call
        .state
        .service()
        .update(&call.user, &call.target, part, decoded, &options)
        .await?;
    write_response(call, &result)
}

async fn patch(call: &Call<'_>, body: Body) -> Result<Response, ApiError> {
    let part = part_of(call.subresource())?;
    let options = call.query.write_options()?;
    let content_type = body::content_type(&call.headers);
    let patch_type = PatchType::from_content_type(&content_type).ok_or_else(|| {
        ApiError::new(
            corral_api::StatusReason::UnsupportedMediaType,
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"),
        )
    })?;
    let bytes = body::read(&call.headers, body).await?;
    let result = call
        .state
        .service()
        .patch(
            &call.user,
            &call.target,
            part,
            patch_type,
            bytes.to_vec(),
            &options,
        )
        .await?;
    write_response(call, &result)
}

/// DeleteOptions from the body (JSON, possibly empty) and the query.
async fn delete_request(call: &Call<'_>, body: Body) -> Result<DeleteRequest, ApiError> {
    let bytes = body::read(&call.headers, body).await?;
    let mut request = if bytes.iter().all(u8::is_ascii_whitespace) {
        DeleteRequest::default()
    } else {
        let content_type = body::content_type(&call.headers);
        let format = BodyFormat::from_content_type(&content_type)
            .ok_or_else(|| unsupported_media_type(&content_type))?;
        delete_request_from(&decode_body(format, &bytes)?.value)?
    };
    request.dry_run |= call.query.dry_run()?;
    if let Some(grace) = call.query.grace_period_seconds()? {
        request.grace_period_seconds = Some(grace);
    }
    if let Some(policy) = call
        .query
        .get("propagationPolicy")
        .filter(|p| !p.is_empty())
    {
        request.propagation = Some(corral_core::Propagation::parse(policy).ok_or_else(|| {
            ApiError::bad_request(format!("invalid propagationPolicy: {policy:?}"))
        })?);
    }
    Ok(request)
}

async fn delete(call: &Call<'_>, body: Body) -> Result<Response, ApiError> {
    if call.subresource().is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let request = delete_request(call, body).await?;
    let result = call
        .state
        .service()
        .delete(&call.user, &call.target, &request)
        .await?;
    let mut response = object_response(call, StatusCode::OK, &result.object, false)?;
    respond::add_warnings(&mut response, &result.warnings);
    Ok(response)
}

async fn delete_collection(call: &Call<'_>, body: Body) -> Result<Response, ApiError> {
    let request = delete_request(call, body).await?;
    let options = call.query.list_options()?;
    let deleted = call
        .state
        .service()
        .delete_collection(&call.user, &call.target, &options, &request)
        .await?;
    Ok(respond::json(
        StatusCode::OK,
        list::objects_body(call.resource, &deleted),
    ))
}
