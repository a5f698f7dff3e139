//! Demonstrations: every page renders, is well-formed offline HTML with its figure and table, and
//! the same seed gives the same bytes.

use balans_teach::{find_demo, DemoConfig, DEMOS};

fn config(seed: u64) -> DemoConfig {
    DemoConfig {
        seed,
        version: "test".into(),
    }
}

#[test]
fn every_demonstration_renders_a_well_formed_offline_page() {
    assert_eq!(DEMOS.len(), 6);
    for demo in DEMOS {
        let html = demo.render(&config(1)).unwrap();
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{}",
            demo.name
        );
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        let doc = roxmltree::Document::parse_with_options(&html, options)
            .unwrap_or_else(|e| panic!("{}: {e}", demo.name));
        let count = |tag: &str| {
            doc.descendants()
                .filter(|n| n.tag_name().name() == tag)
                .count()
        };
        assert_eq!(count("h1"), 1, "{}", demo.name);
        assert!(count("svg") >= 1, "{}: a plot", demo.name);
        assert!(count("table") >= 1, "{}: the numbers", demo.name);
    }
}

#[test]
fn the_same_seed_gives_the_same_page() {
    let demo = find_demo("decomposition").unwrap();
    assert_eq!(
        demo.render(&config(7)).unwrap(),
        demo.render(&config(7)).unwrap()
    );
    assert_ne!(
        demo.render(&config(7)).unwrap(),
        demo.render(&config(8)).unwrap()
    );
    let e = find_demo("sobol").unwrap_err();
    assert!(e.to_string().contains("decomposition, sampling"), "{e}");
}

#[test]
fn the_decomposition_page_shows_exact_identity() {
    let html = find_demo("decomposition")
        .unwrap()
        .render(&config(1))
        .unwrap();
    // Every row's gap is printed in scientific notation and is at most 1e-15 in size.
    let gaps: Vec<f64> = html
        .split("<td class=\"num\">")
        .filter_map(|c| c.split('<').next())
        .filter(|c| c.contains('e') && !c.contains(' '))
        .filter_map(|c| c.parse::<f64>().ok())
        .collect();
    assert_eq!(gaps.len(), 20, "one gap per data set");
    assert!(gaps.iter().all(|g| g.abs() < 1e-14), "{gaps:?}");
}
