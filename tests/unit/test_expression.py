"""dlcore.expression: the whitelist parser, printing, symbolic gradients against autograd."""

from __future__ import annotations

import ast
import builtins
import math
import warnings
from pathlib import Path
from unittest import mock

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dlcore import expression as E
from dlcore.device import available
from dlcore.expression import BinOp, Call, Const, Neg, Num, Var
from dlcore.reference import surfaces as ref_surfaces

DEVICES = [d for d in available() if d != "mps"]  # mps lacks float64
X, Y = Var("x"), Var("y")

# --- random trees from the grammar ---------------------------------------------------------------

VARS_AND_CONSTANTS = st.sampled_from([X, Y, Const("pi"), Const("e")])
ANY_NUMBER = st.one_of(
    st.integers(0, 20).map(float),
    st.floats(0.0, 1e20, allow_nan=False, allow_infinity=False),
    st.floats(1e-12, 1e-3),
)
SMALL_NUMBER = st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0])
# Exponents that respect the limit: small constants, signed constants, or ones holding x or y.
EXPONENTS = st.one_of(
    st.builds(Num, st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0])),
    st.builds(Neg, st.builds(Num, st.sampled_from([0.5, 1.0, 2.0]))),
    st.sampled_from([X, Y]),
    st.builds(BinOp, st.just("*"), st.builds(Num, SMALL_NUMBER), st.sampled_from([X, Y])),
)


def trees(depth: int, numbers: st.SearchStrategy[float]) -> st.SearchStrategy[E.Node]:
    """Trees at most `depth` operators deep (which keeps them inside the nesting limit)."""
    leaves = st.one_of(st.builds(Num, numbers), VARS_AND_CONSTANTS)
    if depth == 0:
        return leaves
    sub = trees(depth - 1, numbers)
    return st.one_of(
        leaves,
        st.builds(Neg, sub),
        st.builds(BinOp, st.sampled_from(["+", "-", "*", "/"]), sub, sub),
        st.builds(BinOp, st.just("**"), sub, EXPONENTS),
        st.builds(Call, st.sampled_from(E.FUNCTIONS), sub),
    )


ANY_TREE = trees(5, ANY_NUMBER)
NUMERIC_TREE = trees(4, SMALL_NUMBER)


def noisy_text(tree: E.Node, draw: st.DrawFn) -> str:
    """Text for `tree` written differently from to_text: full parentheses, random spaces, ^."""

    def space() -> str:
        return draw(st.sampled_from(["", " ", "  ", "\t"]))

    def go(node: E.Node) -> str:
        match node:
            case Num(value):
                return draw(st.sampled_from([repr(value), f"{value:.17e}", f"{value:.17g}"]))
            case Const(name) | Var(name):
                return name
            case Neg(a):
                return f"-{space()}({go(a)})" + space()
            case BinOp(op, a, b):
                op = draw(st.sampled_from(["**", "^"])) if op == "**" else op
                return f"({space()}{go(a)}){space()}{op}{space()}({go(b)}{space()})"
            case Call(func, a):
                return f"{func}{space()}({space()}{go(a)})"
        raise AssertionError(node)

    return go(tree)


def nodes(tree: E.Node) -> list[E.Node]:
    """Every node of a tree."""
    match tree:
        case Neg(a) | Call(_, a):
            return [tree, *nodes(a)]
        case BinOp(_, a, b):
            return [tree, *nodes(a), *nodes(b)]
    return [tree]


def assert_whitelisted(tree: E.Node) -> None:
    for node in nodes(tree):
        match node:
            case Num(value):
                assert math.isfinite(value) and value >= 0
            case Const(name):
                assert name in E.CONSTANTS
            case Var(name):
                assert name in E.VARIABLES
            case Neg():
                pass
            case BinOp(op):
                assert op in {"+", "-", "*", "/", "**"}
            case Call(func):
                assert func in E.FUNCTIONS
            case _:
                raise AssertionError(f"not a whitelisted node: {node!r}")


@settings(max_examples=300, deadline=None)
@given(tree=ANY_TREE)
def test_printed_tree_parses_back_to_the_same_tree(tree: E.Node) -> None:
    text = tree.to_text()
    assume(len(text) <= E.MAX_LENGTH)
    assert E.parse(text) == tree
    assert str(tree) == text
    assert_whitelisted(tree)


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_any_spelling_of_a_tree_parses_to_it(data: st.DataObject) -> None:
    tree = data.draw(trees(3, ANY_NUMBER))
    text = noisy_text(tree, data.draw)
    assume(len(text) <= E.MAX_LENGTH)
    assert E.parse(text) == tree


def points(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Points (..., 2) uniform in [-2, 2]^2 (so never exactly on 0, where kinks live)."""
    gen = torch.Generator().manual_seed(seed)
    return 4 * torch.rand((*shape, 2), generator=gen, dtype=torch.float64) - 2


def assert_close_where_finite(ours: torch.Tensor, ref: torch.Tensor, tol: float) -> None:
    """Equal within tol * (1 + |ref|) wherever both are finite."""
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    both = torch.isfinite(ours) & torch.isfinite(ref)
    error = (ours[both] - ref[both]).abs()
    assert (error <= tol * (1 + ref[both].abs())).all(), (ours[both], ref[both])


@settings(max_examples=300, deadline=None)
@given(
    tree=NUMERIC_TREE,
    seed=st.integers(0, 2**31),
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
)
def test_symbolic_gradient_matches_autograd(tree: E.Node, seed: int, shape: tuple) -> None:
    expr = E.Expression(tree, E.derivative(tree, "x"), E.derivative(tree, "y"))
    xy = points(seed, shape)
    f = expr.f(xy)
    assert f.shape == shape
    torch.testing.assert_close(f, ref_surfaces.expression_value(tree, xy), equal_nan=True)
    g = expr.gradient(xy)
    assert g.shape == (*shape, 2)
    assert_close_where_finite(g, ref_surfaces.expression_gradient(tree, xy), 1e-9)


# Smooth where the points are: ours and autograd must agree everywhere, finite included.
SMOOTH = [
    "sin(x)*y + x**2/10",
    "x**2 + y**2",
    "exp(-(x**2 + y**2))",
    "log(1 + x**2) * cos(y)",
    "sqrt(x**2 + y**2 + 1)",
    "tanh(x*y) - sinh(x) + cosh(y)",
    "sigmoid(x - y) / (1 + y**2)",
    "tan(x/4)",
    "abs(x) * sign(y) + abs(x*y)",
    "2**x * e**y - pi*x",
    "(x - 1)**3 / 3 - x/y/x",
    "-x**-2 + y^0.5",
    "x**y + (x + 3)**(y / 2)",
    "1 + 0*log(x)",
    "3",
]


@pytest.mark.parametrize("text", SMOOTH)
def test_gradient_matches_autograd_on_examples(text: str) -> None:
    expr = E.Expression.from_text(text)
    xy = points(7, (50,)).abs() + 0.1  # in (0.1, 2.1]^2: every example is finite there
    ref = ref_surfaces.expression_gradient(expr.tree, xy)
    assert torch.isfinite(ref).all()
    torch.testing.assert_close(expr.gradient(xy), ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(expr.f(xy), ref_surfaces.expression_value(expr.tree, xy))
    mixed = points(8, (50,))  # signs mixed: NaN exactly where autograd has NaN
    ours, ref = expr.gradient(mixed), ref_surfaces.expression_gradient(expr.tree, mixed)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize(
    ("text", "var", "expected"),
    [
        ("x**2", "x", "2 * x"),
        ("x**3", "x", "3 * x**2"),
        ("sin(x)*y + x**2/10", "x", "cos(x) * y + 2 * x / 10"),
        ("sin(x)*y + x**2/10", "y", "sin(x)"),
        ("3*x + 2", "x", "3"),
        ("exp(y)", "x", "0"),
        ("x*y", "x", "y"),
        ("-x", "x", "-1"),
        ("log(x)", "x", "1 / x"),
        ("abs(x)", "x", "sign(x)"),
        ("2**x", "x", "2**x * log(2)"),
        ("x**y", "y", "x**y * log(x)"),
        ("x**y", "x", "y * x**(y - 1)"),
        ("exp(2*x)", "x", "exp(2 * x) * 2"),
    ],
)
def test_derivative_is_simplified(text: str, var: str, expected: str) -> None:
    assert E.derivative(E.parse(text), var).to_text() == expected


def test_power_rule_at_a_zero_base_is_nan_where_autograd_takes_zero() -> None:
    # Documented: d(u^v)/dv = u^v ln u is NaN at u = 0; autograd special-cases it to 0.
    expr = E.Expression.from_text("x**y")
    xy = torch.tensor([[0.0, 2.0]], dtype=torch.float64)
    ours, ref = expr.gradient(xy), ref_surfaces.expression_gradient(expr.tree, xy)
    assert ours[0, 0] == ref[0, 0] == 0.0
    assert math.isnan(ours[0, 1]) and ref[0, 1] == 0.0


# --- hostile text --------------------------------------------------------------------------------

PIECES = [
    "x", "y", "pi", "e", "sin", "log", "sqrt", "(", ")", "**", "^", "*", "/", "+", "-", " ",
    "1", "2.5", "1e3", ".5", "0", "9", ".", ",", ":", ";", "=", "[", "]", "'", '"', "_",
    "__import__", "os", "lambda", "for", "in", "z", "open", "real", "E", "1e999", "\\", "\n",
]  # fmt: skip


def check_parses_safely(text: str) -> None:
    """Either a whitelisted tree (which evaluates and differentiates quietly) or a ValueError."""
    try:
        tree = E.parse(text)
    except E.ExpressionError as error:
        assert str(error)
        assert error.position is None or 0 <= error.position <= len(text)
        return
    assert_whitelisted(tree)
    printed = tree.to_text()
    if len(printed) <= E.MAX_LENGTH:  # normalising can lengthen the text (spaces, 1e9)
        assert E.parse(printed) == tree
    expr = E.Expression(tree, E.derivative(tree, "x"), E.derivative(tree, "y"))
    xy = points(0, (3,))
    assert expr.f(xy).shape == (3,) and expr.gradient(xy).shape == (3, 2)


def forbid_dynamic_code(*args: object, **kwargs: object) -> None:
    raise AssertionError("the parser must never run eval, exec or compile")


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=E.MAX_LENGTH + 20),
        st.text(st.sampled_from("xy()+-*/^.,=;[]'\"_ 0123456789eEpi\t"), max_size=60),
        st.lists(st.sampled_from(PIECES), max_size=40).map("".join),
    )
)
def test_any_text_parses_to_a_whitelisted_tree_or_raises_value_error(text: str) -> None:
    with (
        mock.patch.object(builtins, "eval", forbid_dynamic_code),
        mock.patch.object(builtins, "exec", forbid_dynamic_code),
        mock.patch.object(builtins, "compile", forbid_dynamic_code),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error")
        check_parses_safely(text)


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("__import__('os')", "unknown name '__import__'", 0),
        ("__import__('os').system('touch /tmp/pwned')", "unknown name '__import__'", 0),
        ("x.real", "'.' at position 2", 1),
        ("().__class__", "unexpected ')'", 1),
        ("lambda x: x", "unknown name 'lambda'", 0),
        ("[x for x in y]", "'[' at position 1", 0),
        ("'os'", "strings are not allowed", 0),
        ('"x"', "strings are not allowed", 0),
        ("x, y", "',' at position 2", 1),
        ("sin(x, y)", "exactly one argument", 5),
        ("x = 1", "right-hand side", 2),
        ("x == y", "'=' at position 3", 2),
        ("x; y", "';' at position 2", 1),
        ("z", "unknown name 'z'", 0),
        ("x + z", "unknown name 'z' at position 5", 4),
        ("open(x)", "unknown name 'open'", 0),
        ("exec(x)", "unknown name 'exec'", 0),
        ("x if y else 1", "unknown name 'if'", 2),
        ("x @ y", "'@' at position 3", 2),
        ("x % 2", "'%'", 2),
        ("x // 2", "unexpected '/' at position 4", 3),
        ("", "empty", None),
        ("   \t", "empty", None),
        ("(x + 1", "missing ')' to close the '(' opened at position 1", 0),
        ("sin(x", "missing ')'", 0),
        ("x + 1)", "unmatched ')' at position 6", 5),
        ("x)(", "unmatched ')'", 1),
        ("()", "unexpected ')'", 1),
        ("2x", "missing operator before 'x' at position 2", 1),
        ("(x)(y)", "missing operator before '('", 3),
        ("sin x", "must be followed by '('", 0),
        ("sin()", "needs an argument", 0),
        ("x +", "ends too early", 3),
        ("* x", "unexpected '*' at position 1", 0),
        ("x ** * 2", "unexpected '*'", 5),
        ("Sin(x)", "did you mean 'sin'", 0),
        ("ln(x)", "log is the natural logarithm", 0),
        ("1e400", "too large", 0),
        ("x−1", "U+2212", 1),
        ("\x00", "U+0000", 0),
        ("2 ×3", "use * for a product", 2),
    ],
)
def test_hostile_and_broken_inputs_raise_clear_errors(
    text: str, message: str, position: int | None
) -> None:
    with pytest.raises(E.ExpressionError) as info:
        E.parse(text)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)
    assert info.value.position == position


def test_parser_source_never_runs_dynamic_code() -> None:
    # Checked on our own source file (this is not parsing user text): no eval/exec/compile
    # (re.compile of our fixed token patterns aside), no ast or sympy.
    source = Path(E.__file__).read_text(encoding="utf-8")
    forbidden = {"eval", "exec", "compile", "__import__", "literal_eval", "parse_expr", "getattr"}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                is_re_compile = isinstance(func.value, ast.Name) and func.value.id == "re"
                assert func.attr not in forbidden or is_re_compile, ast.unparse(node)
            elif isinstance(func, ast.Name):
                assert func.id not in forbidden, ast.unparse(node)
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            roots = {m.split(".")[0] for m in modules}
            assert not {"ast", "sympy", "importlib", "builtins", "pickle"} & roots


def test_non_text_raises_type_error() -> None:
    with pytest.raises(TypeError):
        E.parse(b"x")  # type: ignore[arg-type]


# --- limits --------------------------------------------------------------------------------------


def test_length_limit() -> None:
    text = "x" + " + x" * 49 + "   "  # 200 characters
    assert len(text) == E.MAX_LENGTH
    E.parse(text)
    with pytest.raises(E.ExpressionError, match="201 characters long; the limit is 200"):
        E.parse(text + " ")


@pytest.mark.parametrize(
    ("open_", "close"),
    [("(", ")"), ("sin(", ")"), ("-", ""), ("+", ""), ("-(", ")"), ("2**", "")],
)
def test_nesting_limit(open_: str, close: str) -> None:
    levels = E.MAX_NESTING // (2 if open_ == "-(" else 1)
    E.parse(open_ * levels + "x" + close * levels)
    with pytest.raises(E.ExpressionError, match="nests more than 30 levels") as info:
        E.parse(open_ * (levels + 1) + "x" + close * (levels + 1))
    assert info.value.position is not None


def test_long_flat_expressions_are_fine() -> None:
    # + - * / chains are loops in the parser, not nesting: 100 terms (a 100-deep tree) work.
    text = "x" + "+x" * 99
    expr = E.Expression.from_text(text)
    assert expr.dx == Num(100.0)
    torch.testing.assert_close(expr.f(torch.ones(2, 2)), torch.full((2,), 100.0))


@pytest.mark.parametrize(
    "text", ["x**100", "x**-100", "x^(10*10)", "2**2**2**2", "x**y", "2**x", "x**(2*y)", "e**x"]
)
def test_allowed_exponents(text: str) -> None:
    E.parse(text)


@pytest.mark.parametrize(
    "text", ["x**100.5", "x**(-101)", "x**1e3", "2**2**2**2**2", "9**9**9", "x**(1/0)", "x**(0/0)"]
)
def test_huge_or_non_finite_constant_exponents_raise(text: str) -> None:
    with pytest.raises(E.ExpressionError, match="exponent"):
        E.parse(text)


# --- grammar details -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("-x**2", Neg(BinOp("**", X, Num(2.0)))),
        ("2**3**2", BinOp("**", Num(2.0), BinOp("**", Num(3.0), Num(2.0)))),
        ("2**-x", BinOp("**", Num(2.0), Neg(X))),
        ("x - y - 1", BinOp("-", BinOp("-", X, Y), Num(1.0))),
        ("x / y * 2", BinOp("*", BinOp("/", X, Y), Num(2.0))),
        ("x + y * 2", BinOp("+", X, BinOp("*", Y, Num(2.0)))),
        ("-x * y", BinOp("*", Neg(X), Y)),
        ("x^2", BinOp("**", X, Num(2.0))),
        ("+x", X),
        ("((x))", X),
        ("1.", Num(1.0)),
        (".5", Num(0.5)),
        ("1E-3", Num(0.001)),
        ("2.5e+2", Num(250.0)),
        ("007", Num(7.0)),
        ("pi*e", BinOp("*", Const("pi"), Const("e"))),
        ("sigmoid(x)", Call("sigmoid", X)),
    ],
)
def test_precedence_associativity_and_numbers(text: str, tree: E.Node) -> None:
    assert E.parse(text) == tree


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("sin(x)*y + x^2/10", "sin(x) * y + x**2 / 10"),
        ("(-x)**2", "(-x)**2"),
        ("(x**2)**3", "(x**2)**3"),
        ("x - (y - 1)", "x - (y - 1)"),
        ("x + (y + 1)", "x + (y + 1)"),
        ("x*(y*2)", "x * (y * 2)"),
        ("-(x + y)", "-(x + y)"),
        ("--x", "- -x"),
        ("1e20 * x", "1e+20 * x"),
        ("0.10", "0.1"),
        ("1e-5", "1e-05"),
    ],
)
def test_to_text_normalises(text: str, normalised: str) -> None:
    tree = E.parse(text)
    assert tree.to_text() == str(tree) == normalised
    assert E.parse(normalised) == tree


@pytest.mark.parametrize(
    ("text", "latex"),
    [
        ("sin(x)*y + x**2/10", r"\sin\left(x\right) \cdot y + \frac{x^{2}}{10}"),
        ("sqrt(abs(x)) - log(y)", r"\sqrt{\left|x\right|} - \ln\left(y\right)"),
        ("(x + 1)**2", r"\left(x + 1\right)^{2}"),
        ("2**-x", "2^{-x}"),
        ("x - (y - 1)", r"x - \left(y - 1\right)"),
        ("x * -y", r"x \cdot \left(-y\right)"),
        ("-(x + y)", r"-\left(x + y\right)"),
        ("--x", r"-\left(-x\right)"),
        ("pi * sigmoid(x)", r"\pi \cdot \sigma\left(x\right)"),
        ("1e-5**x", r"\left(1 \times 10^{-5}\right)^{x}"),
        ("x * (y / 2) - -(3 / x)", r"x \cdot \frac{y}{2} - \left(-\frac{3}{x}\right)"),
        ("-3 / x", r"\frac{-3}{x}"),
        ("(x / 2)**2", r"\left(\frac{x}{2}\right)^{2}"),
    ],
)
def test_to_latex(text: str, latex: str) -> None:
    assert E.parse(text).to_latex() == latex


# --- evaluation ----------------------------------------------------------------------------------


def test_domain_errors_give_nan_or_inf_never_an_exception() -> None:
    expr = E.Expression.from_text("log(x) + sqrt(y) + x**0.5")
    xy = torch.tensor([[-1.0, -1.0], [0.0, 0.0], [4.0, 4.0]], dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f, g = expr.f(xy), expr.gradient(xy)
        inverse = E.Expression.from_text("1/x").f(xy)
    assert f[0].isnan() and f[1] == -math.inf and f[2] == math.log(4) + 2 + 2
    assert g[0].isnan().all() and g[1].isinf().all() and torch.isfinite(g[2]).all()
    assert inverse[1] == math.inf and inverse[0] == -1.0
    huge = E.Expression.from_text("exp(exp(exp(x))) / 0")
    assert not torch.isfinite(huge.f(xy)).any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_evaluation_follows_dtype(dtype: torch.dtype) -> None:
    expr = E.Expression.from_text("pi * x**2 + e * y")
    xy = torch.ones(4, 2, dtype=dtype)
    assert expr.f(xy).dtype == dtype and expr.gradient(xy).dtype == dtype
    torch.testing.assert_close(expr.f(xy), torch.full((4,), math.pi + math.e, dtype=dtype))


@pytest.mark.parametrize("device", DEVICES)
def test_evaluation_runs_on_the_inputs_device(device: str) -> None:
    expr = E.Expression.from_text("sin(x)*y + x^2/10 + 3")
    xy = points(9, (20,))
    f, g = expr.f(xy.to(device)), expr.gradient(xy.to(device))
    assert f.device.type == device and g.device.type == device
    torch.testing.assert_close(f.cpu(), expr.f(xy), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g.cpu(), expr.gradient(xy), rtol=1e-12, atol=1e-12)


def test_f_never_returns_a_view_of_the_points() -> None:
    xy = torch.tensor([1.0, 2.0])
    out = E.Expression.from_text("x").f(xy)
    out += 1
    assert xy.tolist() == [1.0, 2.0]


def test_variables() -> None:
    assert E.variables(E.parse("sin(x) + 2")) == {"x"}
    assert E.variables(E.parse("x*y")) == {"x", "y"}
    assert E.variables(E.parse("pi")) == frozenset()
