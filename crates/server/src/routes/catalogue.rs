//! The dataset catalogue: public pages for harvesting (JSON, Turtle or
//! JSON-LD by content negotiation), one dataset at its stable URI, and the
//! detailed quality findings for data stewards. What is published, how it
//! is written and who sees findings are `halsohub_app::catalogue`'s
//! decisions; these handlers translate.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use halsohub_app::catalogue::{
    self, Built, CataloguePage, DatasetView, FindingsError, QualityReport, RdfError, RdfSyntax,
    Representation,
};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::Problem;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_catalogue))
        .routes(routes!(get_dataset))
        .routes(routes!(get_findings))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageParams {
    page: Option<usize>,
}

fn built(state: &AppState) -> Result<&Arc<Built>, Problem> {
    state.catalogue.as_ref().ok_or_else(|| {
        Problem::unavailable("no-catalogue", "No catalogue", "this server was started without a catalogue; start it with `halsohub serve --store DIR --catalogue-dir DIR --catalogue-config FILE`")
    })
}

fn representation(headers: &HeaderMap) -> Representation {
    catalogue::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
}

fn rdf(bytes: Vec<u8>, syntax: RdfSyntax) -> Response {
    ([(header::CONTENT_TYPE, syntax.media_type())], bytes).into_response()
}

fn rdf_error(e: RdfError) -> Problem {
    match e {
        RdfError::Page(p) => Problem::not_found(p.to_string()),
        e => {
            tracing::error!(error = %e, "catalogue RDF");
            Problem::internal()
        }
    }
}

/// The dataset catalogue, one page at a time (`?page=N`, from 1): halsohub
/// JSON, or HealthDCAT-AP as Turtle (`Accept: text/turtle`) or JSON-LD
/// (`Accept: application/ld+json`) with Hydra paging. Public.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "catalogue",
    params(("page" = Option<usize>, Query, description = "page number, from 1")),
    responses(
        (status = 200, description = "a page of the catalogue (JSON; with `Accept: text/turtle` or `application/ld+json`, HealthDCAT-AP RDF with Hydra paging)", body = CataloguePage),
        (status = 404, description = "no such page", content_type = "application/problem+json"),
        (status = 503, description = "the server has no catalogue", content_type = "application/problem+json")))]
async fn get_catalogue(
    State(state): State<AppState>,
    Query(params): Query<PageParams>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let built = built(&state)?;
    let page = params.page.unwrap_or(1);
    let not_found = |e: catalogue::CatalogueError| Problem::not_found(e.to_string());
    match representation(&headers) {
        Representation::Json => Ok(Json(
            catalogue::page_json(&built.catalogue, page).map_err(not_found)?,
        )
        .into_response()),
        Representation::Rdf(syntax) => Ok(rdf(
            catalogue::page_rdf(&built.catalogue, page, syntax).map_err(rdf_error)?,
            syntax,
        )),
    }
}

/// One published dataset at its stable URI: halsohub JSON, Turtle or
/// JSON-LD by content negotiation. Public.
#[utoipa::path(get, path = "/api/v1/catalogue/datasets/{id}", tag = "catalogue",
    params(("id" = String, Path, description = "the dataset's identifier")),
    responses(
        (status = 200, description = "the dataset (JSON; with `Accept: text/turtle` or `application/ld+json`, HealthDCAT-AP RDF)", body = DatasetView),
        (status = 404, description = "no such published dataset", content_type = "application/problem+json"),
        (status = 503, description = "the server has no catalogue", content_type = "application/problem+json")))]
async fn get_dataset(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let built = built(&state)?;
    let missing = || Problem::not_found(format!("no published dataset {id}"));
    match representation(&headers) {
        Representation::Json => Ok(Json(
            catalogue::dataset_json(&built.catalogue, &id).ok_or_else(missing)?,
        )
        .into_response()),
        Representation::Rdf(syntax) => Ok(rdf(
            catalogue::dataset_rdf(&built.catalogue, &id, syntax)
                .map_err(rdf_error)?
                .ok_or_else(missing)?,
            syntax,
        )),
    }
}

/// A dataset's quality per source and load with the defect counts behind
/// each metric (rows per quarantine reason, rows missing a value). For data
/// stewards.
#[utoipa::path(get, path = "/api/v1/catalogue/datasets/{id}/quality", tag = "catalogue",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the dataset's identifier")),
    responses(
        (status = 200, description = "quality reports with findings", body = Vec<QualityReport>),
        (status = 401, description = "no credentials", content_type = "application/problem+json"),
        (status = 403, description = "not a data steward", content_type = "application/problem+json"),
        (status = 404, description = "no such published dataset", content_type = "application/problem+json"),
        (status = 503, description = "the server has no catalogue", content_type = "application/problem+json")))]
async fn get_findings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<QualityReport>>, Problem> {
    let built = built(&state)?;
    match catalogue::findings(built, &id, &caller.principal) {
        Ok(reports) => Ok(Json(reports.to_vec())),
        Err(e @ FindingsError::Forbidden) => Err(Problem::forbidden(e.to_string())),
        Err(e @ FindingsError::NotFound(_)) => Err(Problem::not_found(e.to_string())),
    }
}
