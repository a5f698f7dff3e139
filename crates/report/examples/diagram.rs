//! Prints the path diagram of a built-in model as SVG: `cargo run -p balans-report --example diagram -- seed`.
fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "seed".into());
    let model = balans_model::Model::builtin(&name).expect("a built-in model");
    let population = model.population().expect("its population");
    print!(
        "{}",
        balans_report::diagram::PathDiagram::from_population(&model, &population).to_svg()
    );
}
