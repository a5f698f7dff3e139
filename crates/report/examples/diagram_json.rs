//! Draws the diagram of a fit or model JSON: `cargo run -p balans-report --example diagram_json -- fit.json`.
fn main() {
    let path = std::env::args().nth(1).expect("a JSON file");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON");
    let d = balans_report::html::fit_diagram(&json)
        .or_else(|_| balans_report::html::model_diagram(&json))
        .expect("a fit or model result");
    let l = balans_report::diagram::layout(&d);
    eprintln!("spread {} size {}x{}", l.spread, l.width, l.height);
    print!("{}", d.to_svg());
}
