//! `fleetdeck report`: the executive summary (or one tenant's report) as one
//! self-contained file, from the cache only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};

use fleetdeck_engine::report::{render, write_private, Format, Period, ReportSpec};
use fleetdeck_engine::session::SessionOptions;

/// What `fleetdeck report` takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Where to write the report.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// The period the report covers, back from now: 1h to 30d, in hours or days (24h, 7d, 30d).
    #[arg(long, value_name = "PERIOD", default_value = "7d", value_parser = Period::parse)]
    pub since: Period,
    /// One tenant's report (its id, as `fleetdeck status` lists it) instead of the executive summary.
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
    /// The file format [default: from the extension of --out, else html].
    #[arg(long, value_parser = format_parser())]
    pub format: Option<Format>,
}

/// `--format`: a format by the name of its extension (html, pdf, png, csv).
fn format_parser() -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new(Format::ALL.map(Format::extension))
        .try_map(|name| Format::ALL.into_iter().find(|f| f.extension() == name).ok_or("not a report format"))
}

/// `fleetdeck report`: open the cache (no AWS, no simulator), render, write.
pub async fn run(opts: &SessionOptions, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let format = args.format.or_else(|| Format::from_path(&args.out)).unwrap_or(Format::Html);
    let (cache, _) = opts.open_existing_cache().await?;
    let catalog = fleetdeck_engine::catalog::Catalog::load(opts.queries.as_deref())
        .map_err(|e| anyhow::anyhow!("query catalog:\n{e}"))?;
    let spec = ReportSpec { period: args.since, tenant: args.tenant, format };
    let rendered = render(&cache, &catalog, &spec, fleetdeck_engine::clock::now()).await?;
    write_private(&args.out, &rendered.bytes)?;
    let what = match &spec.tenant {
        Some(t) => format!("report of tenant {}", fleetdeck_engine::export::clean(t)),
        None => "executive summary".into(),
    };
    let pages = match format {
        Format::Pdf | Format::Png => format!(", {} page{}", rendered.pages, if rendered.pages == 1 { "" } else { "s" }),
        _ => String::new(),
    };
    eprintln!(
        "wrote the {what} of the last {} ({}{pages}, {} KB) to {}",
        spec.period.label(),
        format.extension().to_uppercase(),
        rendered.bytes.len().div_ceil(1024),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
