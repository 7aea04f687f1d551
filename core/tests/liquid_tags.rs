//! `@liquid` syntax as liquidjs reads it: the `{% liquid %}` tag (one tag per line), `echo`,
//! inline comments `{% # %}` and a trailing empty filter (`{{ a | }}`), plus their errors.
//!
//! Every expected value in [`CASES`] was produced by running liquidjs 10.30.1 (the version in
//! `conformance/VERSIONS.json`) under Node.js 20, configured as `@segment/actions-core` 3.170.0's
//! `liquid-directive.ts` configures it (`renderLimit: 500`, `parseLimit: 1000`,
//! `memoryLimit: 1e8`, the same disabled tags and filters), with `parseAndRenderSync(template,
//! EVENT)`; errors keep liquidjs' message without its `, line:…, col:…` suffix. A message is
//! checked (`Some`) when it is one an author acts on (a disabled tag or filter, a stray block
//! tag, a bad `liquid` line, a bad inline comment); otherwise (`None`) only that it fails.
//!
//! Known differences, not listed (liquidjs accepts what we refuse, or the reverse): liquidjs
//! ignores words after `echo`'s expression (`echo 1 echo 2`), accepts a trailing `,` after
//! filter arguments, backslash escapes in strings, `{% block %}`, `elsif` in `unless` and
//! arguments after `raw`; it has no `ifchanged`, which we keep. A `{% liquid %}` line with an
//! unclosed string is refused (liquidjs reads it in ways that depend on what follows).

use actions_core::mapping::{Mapping, transform};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The event of `conformance/mapping` cases (e.g. 0571.json).
fn event() -> Value {
    json!({"properties": {
        "csv": "a,b,c", "date": "2021-02-03T04:05:06.000Z", "e": "", "f": 2.5,
        "html": "<b>bold</b> & co", "list": ["b", "a", "c"],
        "long": "The quick brown fox jumps over the lazy dog", "n": 7, "neg": -3, "nul": null,
        "objs": [{"k": 1, "v": "x"}, {"k": 2, "v": "y"}], "s": "  padded  ", "t": true,
        "ts": 1612325106, "unicode": "Zoë 😀", "url": "a b&c=d/é", "world": "Earth"},
     "traits": {"email": "Jane@Example.com", "name": "Jane"}})
}

/// Renders `template` as the `@liquid` value of a mapping field.
fn render(template: &str, event: &Value) -> Result<String, String> {
    match transform(&json!({"v": {"@liquid": template}}), event) {
        Ok(Some(out)) => Ok(out["v"].as_str().unwrap_or_default().to_owned()),
        Ok(None) => Err("no output".to_owned()),
        Err(e) => Err(format!("{}: {}", e.class(), e.message())),
    }
}

/// (template, liquidjs result): `Ok(output)` or `Err(message to find in ours)`.
#[rustfmt::skip]
const CASES: &[(&str, Result<&str, Option<&str>>)] = &[
    ("{{ properties.world | }}", Ok("Earth")),
    ("{{ properties.world |}}", Ok("Earth")),
    ("{{ properties.world | | upcase }}", Err(None)),
    ("{{ properties.world || upcase }}", Err(None)),
    ("{{ properties.world | upcase | }}", Ok("EARTH")),
    ("{{ properties.world | upcase || }}", Err(None)),
    ("{{ | }}", Err(None)),
    ("{{ | upcase }}", Err(None)),
    ("{{ properties.world | : 1 }}", Err(None)),
    ("{{ properties.world |: 1 }}", Err(None)),
    ("{% liquid assign x = properties.a | upcase\necho x %}", Ok("")),
    ("{% liquid\nassign x = properties.a | upcase\n\n  echo x\n%}", Ok("")),
    ("{% liquid\n# comment\necho properties.a\n%}", Ok("")),
    ("{% liquid\necho properties.a # trailing\n%}", Err(None)),
    ("{% liquid if properties.n > 3\necho 'big'\nelse\necho 'small'\nendif %}", Ok("big")),
    ("{% liquid unless properties.n > 3\necho 'big'\nendunless %}", Ok("")),
    ("{% liquid capture c\necho properties.a\necho '!'\nendcapture\necho c | upcase %}", Ok("!")),
    ("{% liquid for x in properties.list\necho x\nendfor %}", Err(Some("tag \"for\" is disabled"))),
    ("{% liquid case properties.n\nwhen 7\necho 'seven'\nendcase %}", Err(Some("tag \"case\" is disabled"))),
    ("{% liquid %}", Ok("")),
    ("{% liquid\n%}", Ok("")),
    ("{% liquid echo %}", Ok("")),
    ("{% echo %}", Ok("")),
    ("{% echo properties.a %}", Ok("")),
    ("{% liquid echo properties.a | %}", Ok("")),
    ("{% echo properties.a | %}", Ok("")),
    ("{% liquid liquid echo 1 %}", Ok("1")),
    ("{% liquid raw\nx\nendraw %}", Ok("x\n")),
    ("{% liquid comment\nx\nendcomment\necho 1 %}", Ok("1")),
    ("{% liquid if true\necho 1 %}", Err(None)),
    ("{% liquid endif %}", Err(Some("tag \"endif\" not found"))),
    ("{% liquid increment c\nincrement c\ndecrement c %}", Ok("011")),
    ("{% liquid cycle 'a', 'b'\ncycle 'a', 'b' %}", Ok("ab")),
    ("{% liquid assign x = 1\r\necho x %}", Ok("1")),
    ("{% liquid assign x = 1\r\n\techo x\t%}", Ok("1")),
    ("{%- liquid echo 1 -%} x", Ok("1x")),
    ("a {%- liquid echo 1 -%} x", Ok("a1x")),
    ("{% liquid {{ x }} %}", Err(Some("illegal liquid tag syntax"))),
    ("{% liquid bogus x %}", Err(None)),
    ("{% liquid echo 1\n# comment line\n#\necho 2 %}", Ok("12")),
    ("{% liquid # whole\necho 2 %}", Ok("2")),
    ("{% liquid break %}", Ok("")),
    ("{% # inline comment %}x", Ok("x")),
    ("{% liquid assign x = 'a\nb' %}", Err(None)),
    ("{{ }}", Err(None)),
    ("{{}}", Err(None)),
    ("{{ 'a }}' }}", Ok("a }}")),
    ("{% assign x = properties.a | %}{{ x }}", Ok("")),
    ("{% assign x = properties.a | upcase | %}{{ x }}", Ok("")),
    ("{% assign x = properties.a || %}{{ x }}", Err(None)),
    ("{% if properties.a | %}y{% endif %}", Ok("")),
    ("{% liquid if true %}x{% endif %}", Err(None)),
    ("{% if true %}{% liquid endif %}", Err(Some("tag \"endif\" not found"))),
    ("{% liquid comment\n{{ x }}\nendcomment %}", Err(Some("illegal liquid tag syntax"))),
    ("{% liquid\n  {{ x }}\n%}", Err(Some("illegal liquid tag syntax"))),
    ("{% liquid echo properties.a\n%}{% liquid echo properties.world %}", Ok("Earth")),
    ("x {%- liquid -%} y", Ok("xy")),
    ("x {%- liquid %} y", Ok("x y")),
    ("x {%liquid-%} y", Ok("x y")),
    ("{%liquid echo 1%}", Ok("1")),
    ("{% liquid echo 1-%}", Ok("1")),
    ("{% liquid echo 1 -%}\n y", Ok("1y")),
    ("{% liquid assign x = 2\necho x | plus: 1 %}", Ok("3")),
    ("{% liquid capture c\necho 'a'\nendcapture %}{{ c }}", Ok("a")),
    ("{% liquid unless false\necho 'u'\nelse\necho 'v'\nendunless %}", Ok("u")),
    ("{% liquid if properties.n == 1\necho 'one'\nelsif properties.n == 7\necho 'seven'\nendif %}", Ok("seven")),
    ("{% liquid if properties.n == 7 %}", Err(None)),
    ("{% liquid\n\n\n%}", Ok("")),
    ("{% liquid echo properties.world | upcase | append: '!' %}", Ok("EARTH!")),
    ("{% liquid echo properties.a\n\techo properties.world %}", Ok("Earth")),
    ("{% liquid echo \"a\nb\" %}", Err(None)),
    ("{% liquid cycle 'a'\ncycle 'a' %}", Ok("aa")),
    ("{% liquid decrement d\ndecrement d %}{{ d }}", Ok("-1-2-2")),
    ("{% liquid break\necho 1 %}", Ok("")),
    ("{% liquid continue\necho 1 %}", Ok("")),
    ("{% liquid include 'x' %}", Err(Some("tag \"include\" is disabled"))),
    ("{% liquid render 'x' %}", Err(Some("tag \"render\" is disabled"))),
    ("{% liquid tablerow x in y\nendtablerow %}", Err(Some("tag \"tablerow\" is disabled"))),
    ("{% liquid layout 'x' %}", Err(Some("tag \"layout\" is disabled"))),
    ("{% liquid echo properties.list | first %}", Ok("b")),
    ("{% liquid echo properties.list | sort %}", Err(Some("filter \"sort\" is disabled"))),
    ("{% # hi %}a", Ok("a")),
    ("{%# hi %}a", Ok("a")),
    ("{% #hi\n# there %}a", Ok("a")),
    ("{% # hi\nthere %}a", Err(Some("every line of an inline comment must start with a '#' character"))),
    ("{%- # hi -%} a", Ok("a")),
    ("{% liquid ## x\necho 1 %}", Ok("1")),
    ("{% liquid #\necho 1 %}", Ok("1")),
    ("{% raw %}{% liquid echo 1 %}{{ a | }}{% endraw %}", Ok("{% liquid echo 1 %}{{ a | }}")),
    ("{% comment %}{% liquid echo 1 %}{{ a | }}{% endcomment %}z", Ok("z")),
    ("{% liquid assign x = 1 %}{{ x }}", Ok("1")),
    ("{% liquid echo -1 %}", Ok("-1")),
    ("{% liquid echo 1\n-%}", Ok("1")),
    ("{% liquid\r\necho 1\r\n%}", Ok("1")),
    ("{{ properties.world | append: '|' | }}", Ok("Earth|")),
    ("{{ properties.world | append: '|' }}", Ok("Earth|")),
    ("{{ properties.world | -}}", Ok("Earth")),
    ("{{- properties.world | -}}", Ok("Earth")),
    ("{{ properties.world |\n}}", Ok("Earth")),
    ("{{ 'x |' }}", Ok("x |")),
    ("{{ properties.world | upcase |}}", Ok("EARTH")),
    ("{% liquid echo 'x' |\n echo 'y' %}", Ok("xy")),
    ("{% comment %}{% if x %}", Err(None)),
    ("{% comment %}{% if x %}{% endcomment %}", Ok("")),
    ("{% if true %}{% comment %}{% if x %}{% endif %}", Err(None)),
    ("{% capture %}{% comment %}{% capture x %}{% endcomment %}", Err(None)),
    ("{% raw %}x", Err(None)),
    ("{% raw %}{% endraw %}", Ok("")),
    ("{% comment %}{% endcomment %}", Ok("")),
    ("{% comment %}{% comment %}{% endcomment %}", Ok("")),
    ("{% comment %}{% comment %}{% endcomment %}{% endcomment %}ok", Err(None)),
    ("{% comment %}{{ a | }}{% liquid x %}{% endcomment %}z", Ok("z")),
    ("{% raw %}x{%endraw%}y", Ok("xy")),
    ("{% raw %}x {% endraw -%} y", Ok("x y")),
    ("{% liquid\n\u{000b} echo 'a' %}", Ok("a")),
    ("{% liquid\n\u{c} echo 'a' %}", Ok("a")),
    ("{% liquid\necho\t'a' %}", Ok("a")),
    ("{% liquid\nassign\tx\t=\t1\necho x %}", Ok("1")),
    ("{% liquid if true\necho 1\nelse\necho 2\nelse\necho 3\nendif %}", Err(None)),
    ("{% liquid capture\necho 1\nendcapture %}", Err(None)),
    ("{% liquid if true\ncapture c\nelse\nendcapture\nendif %}", Err(Some("tag \"else\" not found"))),
    ("{% liquid if true\nif false\necho 1\nendif %}", Err(None)),
    ("{% liquid if true\nendunless %}", Err(Some("tag \"endunless\" not found"))),
    ("{% liquid raw\n  x  \n\n{{ y }}\nendraw %}", Err(Some("illegal liquid tag syntax"))),
    ("{% liquid raw\nx\n  endraw  z\necho 2 %}", Ok("x\n2")),
    ("{% liquid raw %}", Err(None)),
    ("{% liquid comment %}", Err(None)),
    ("{% liquid comment\nif\nendcomment %}", Ok("")),
    ("{% liquid echo '{{' %}", Ok("{{")),
    ("{% liquid echo '{%' %}", Ok("{%")),
    ("{% liquid echo \"it's\" %}", Ok("it's")),
    ("{{ \"a|\" | }}", Ok("a|")),
    ("{% echo %}{% echo  -%}  x", Ok("x")),
    ("{%  #  a %}b", Ok("b")),
    ("{% #a\n #b\n\t#c %}d", Ok("d")),
    ("{%- liquid\n# only comment\n-%} z", Ok("z")),
    ("{% liquid assign x = properties.a\nif x == 'hi'\necho 'yes'\nendif %}", Ok("")),
    ("{% for x in y %}{% endfor %}{% liquid endif %}", Err(Some("tag \"for\" is disabled"))),
    ("{% liquid endif\nfor x in y\nendfor %}", Err(Some("tag \"endif\" not found"))),
    ("{% liquid for x in y\nendfor\nendif %}", Err(Some("tag \"for\" is disabled"))),
    ("{% liquid echo properties.world | sort\nendif %}", Err(Some("tag \"endif\" not found"))),
    ("{% liquid if properties.n > 3\n  if properties.a == 'hi'\n    echo 'both'\n  endif\nendif %}", Ok("")),
    ("{% liquid assign greeting = 'Hello, ' | append: properties.world\necho greeting | upcase %}!", Ok("HELLO, EARTH!")),
    ("{% liquid\n  # a comment line\n  assign n = properties.n | times: 2\n  echo n\n%}", Ok("14")),
    ("{% if properties.n > 3 %}{% liquid echo 'big'\necho '!' %}{% endif %}", Ok("big!")),
    ("{% capture c %}{% liquid echo properties.a %}{% endcapture %}[{{ c }}]", Ok("[]")),
    ("{% liquid capture c\necho properties.a | upcase\nendcapture %}[{{ c | downcase }}]", Ok("[]")),
    ("{{ properties.missing | }}x", Ok("x")),
    ("{{ properties.n | plus: 1 | }}", Ok("8")),
    ("{{ properties.list | join: ',' | }}", Ok("b,a,c")),
    ("{% liquid echo properties.list | join: '|' %}", Ok("b|a|c")),
    ("{% liquid echo 'a' | append: '|' | %}", Ok("a|")),
    ("a\n{%- liquid\necho 'b'\n-%}\nc", Ok("abc")),
    ("{% liquid\n%}{% liquid\n#x\n%}done", Ok("done")),
    ("{% liquid unless properties.n == 7\necho 'no'\nelse\necho 'yes'\nendunless %}", Ok("yes")),
    ("{% liquid if properties.nope\necho 'x'\nelsif properties.a\necho 'elsif'\nendif %}", Ok("")),
    ("{% liquid case properties.n\nwhen 7\necho 7\nendcase %}", Err(Some("tag \"case\" is disabled"))),
    ("{% liquid echo properties.a | reverse %}", Err(Some("filter \"reverse\" is disabled"))),
    ("{% liquid comment\nanything here\nendcomment\necho 'after' %}", Ok("after")),
    ("{% liquid raw\necho 1\nendraw %}", Ok("echo 1\n")),
    ("{% liquid if true\nelse\nelse\nendif %}", Err(None)),
    ("{% echo properties.world | upcase | %}", Ok("EARTH")),
    ("{% assign w = properties.world | downcase | %}{{ w }}", Ok("earth")),
    ("{% unless properties.nope | %}u{% endunless %}", Ok("u")),
    ("{% if false %}{% elsif properties.a | %}e{% endif %}", Ok("")),
    ("{% liquid liquid liquid echo 'deep' %}", Ok("deep")),
    ("{% liquid increment i\nincrement i\necho i %}", Ok("012")),
];

#[test]
fn every_case_matches_liquidjs() {
    let event = event();
    let mut failures = Vec::new();
    for (template, want) in CASES {
        let got = render(template, &event);
        let ok = match (want, &got) {
            (Ok(want), Ok(got)) => want == got,
            (Err(None), Err(got)) => got.starts_with("TemplateError: "),
            (Err(Some(want)), Err(got)) => got.starts_with("TemplateError: ") && got.contains(want),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{template:?}\n    liquidjs {want:?}\n    ours     {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

/// The variables a template reads (`Mapping::value_keys`), as liquidjs' `fullVariablesSync`
/// lists them (run on each template with the same liquidjs).
#[test]
fn value_keys_match_liquidjs() {
    let cases: &[(&str, &[&str])] = &[
        (
            "{% liquid assign x = properties.a | upcase\necho x\n# traits.skip\nif traits.e\necho f\nendif %}",
            &["properties.a", "x", "traits.e", "f"],
        ),
        (
            "{{ properties.world | }}{% echo traits.name | %}",
            &["properties.world", "traits.name"],
        ),
        ("{% # x.y %}{{ z }}", &["z"]),
        (
            "{% comment %}{{ a }}{% endcomment %}{% raw %}{{ b }}{% endraw %}{{ c }}",
            &["c"],
        ),
        (
            "{% liquid comment\necho hidden\nendcomment\nraw\necho shown\nendraw\necho d %}",
            &["d"],
        ),
    ];
    for (template, want) in cases {
        let mapping = Mapping::compile(&json!({"v": {"@liquid": template}})).unwrap();
        assert_eq!(mapping.value_keys(), *want, "{template:?}");
    }
}

/// A `liquid` tag line that stands alone (no block).
fn simple_line() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "assign x = properties.world | upcase",
        "assign y = properties.n | plus: 1 |",
        "echo x",
        "echo y | append: '-'",
        "echo properties.list | join: ','",
        "echo",
        "increment c",
        "cycle 'a', 'b'",
        "# a comment line",
        "echo properties.missing | default: 'none'",
    ])
    .prop_map(str::to_owned)
}

/// Lines of a `liquid` tag whose blocks close in it.
fn lines() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(simple_line(), 0..3).prop_recursive(3, 12, 3, |inner| {
        (
            prop::sample::select(vec![
                ("if properties.t", "else", "endif"),
                ("if properties.nope", "else", "endif"),
                ("unless properties.n > 3", "else", "endunless"),
                ("capture x", "echo '|'", "endcapture"),
            ]),
            inner.clone(),
            inner.clone(),
            inner,
        )
            .prop_map(|((start, middle, end), a, b, rest)| {
                let mut out = vec![start.to_owned()];
                out.extend(a);
                out.push(middle.to_owned());
                out.extend(b);
                out.push(end.to_owned());
                out.extend(rest);
                out
            })
    })
}

/// Template soup: pieces of liquidjs syntax and near misses.
fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "{% comment %}",
            "{% endcomment %}",
            "{% raw %}",
            "{% endraw %}",
            "{% if x %}",
            "{% else %}",
            "{% endif %}",
            "{% capture c %}",
            "{% endcapture %}",
            "{% liquid ",
            "{% # ",
            "{%- ",
            "{% ",
            " %}",
            " -%}",
            "{{ x | ",
            "{{ ",
            " }}",
            "-}}",
            "\n",
            " ",
            "\t",
            "liquid",
            "if x",
            "endif",
            "else",
            "raw",
            "endraw",
            "comment",
            "endcomment",
            "capture c",
            "endcapture",
            "unless x",
            "endunless",
            "for x in y",
            "echo x",
            "assign x = 1",
            "#",
            "|",
            "'",
            "\"",
            "\\",
            "-",
            "é",
            ":",
            ",",
            "{%",
            "%}",
            "{{",
            "}}",
        ]),
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// A `liquid` tag renders what the same lines render as separate tags, whatever the
    /// indentation and blank lines.
    #[test]
    fn liquid_tag_equals_separate_tags(lines in lines(), indent in prop::sample::select(vec!["", "  ", "\t"]), blank in any::<bool>()) {
        let event = event();
        let separate: String = lines.iter().map(|l| format!("{{% {l} %}}")).collect();
        let joiner = if blank { "\n\n" } else { "\n" };
        let body: Vec<String> = lines.iter().map(|l| format!("{indent}{l}")).collect();
        let block = format!("{{% liquid\n{}\n%}}", body.join(joiner));
        // Both within the 1000-character limit.
        prop_assume!(separate.len() <= 1000 && block.len() <= 1000);
        let want = render(&separate, &event);
        prop_assert!(want.is_ok(), "{separate:?} fails: {want:?}");
        prop_assert_eq!(render(&block, &event), want, "{}", block);
    }

    /// Rendering, compiling and listing keys never panic, whatever the template.
    #[test]
    fn never_panics(template in soup()) {
        let event = event();
        let _ = render(&template, &event);
        if let Ok(mapping) = Mapping::compile(&json!({"v": {"@liquid": template}})) {
            let _ = mapping.value_keys();
        }
    }
}
