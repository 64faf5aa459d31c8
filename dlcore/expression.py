r"""A learner-typed $f(x, y)$, parsed safely, differentiated symbolically, evaluated on tensors.

The text goes through our own tokenizer and recursive-descent parser over an explicit
whitelist; nothing here ever hands user text to `eval`, `exec`, `compile` or Python's `ast`.
Everything else is rejected with an `ExpressionError` (a `ValueError`) that names the position
and says what is allowed. The grammar, in EBNF (the same precedence as Python):

    expression = term { ("+" | "-") term } ;
    term       = unary { ("*" | "/") unary } ;
    unary      = ("+" | "-") unary | power ;
    power      = atom [ ("**" | "^") unary ] ;           (* right-associative: 2**3**2 = 2**9 *)
    atom       = number | "x" | "y" | "pi" | "e" | function "(" expression ")"
               | "(" expression ")" ;
    function   = "sin" | "cos" | "tan" | "exp" | "log" | "sqrt" | "abs" | "sign"
               | "tanh" | "sinh" | "cosh" | "sigmoid" ;
    number     = ( digits [ "." [ digits ] ] | "." digits ) [ ("e" | "E") [ "+" | "-" ] digits ] ;

`^` means power (as on a calculator), `log` is the natural logarithm, unary `+` is dropped, and
`-x**2` is $-(x^2)$. `to_text()` (and `str`) print a tree as normalised text that parses back
to the same tree, provided it still fits the length limit (spaces around operators can make it
longer than what was typed).

Limits: at most `MAX_LENGTH` characters, at most `MAX_NESTING` levels of nesting (each "(",
function call, unary sign and exponent opens one), number literals must be finite, and an
exponent without x or y must lie within $\pm$`MAX_EXPONENT`. Exponents that depend on x or y
(`x**y`, `2**x`) are allowed; their derivative uses $d(u^v) = v\,u^{v-1}\,du + u^v \ln(u)\,dv$,
which is NaN where $u \le 0$ and $v$ varies (autograd takes 0 at $u = 0$, $v \ge 0$).

Evaluation never raises on domain errors: it is plain tensor arithmetic, so `log(-1)` and
`sqrt(-1)` give NaN, `1/0` and `log(0)` give $\pm\infty$ (the page shows non-finite values).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

MAX_LENGTH = 200
MAX_NESTING = 30
MAX_EXPONENT = 100.0

VARIABLES: tuple[str, ...] = ("x", "y")
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
FUNCTIONS: tuple[str, ...] = (
    "sin",
    "cos",
    "tan",
    "exp",
    "log",
    "sqrt",
    "abs",
    "sign",
    "tanh",
    "sinh",
    "cosh",
    "sigmoid",
)


class ExpressionError(ValueError):
    """Text that is not an allowed f(x, y); `position` is the 0-based index of the problem."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


# --- the tree ------------------------------------------------------------------------------------


class Node:
    """A node of a parsed expression; trees are immutable and compare by structure."""

    def to_text(self) -> str:
        """The normalised text, which parses back to the same tree."""
        return to_text(self)

    def to_latex(self) -> str:
        """A LaTeX rendering for the page."""
        return to_latex(self)

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True)
class Num(Node):
    """A number literal (never negative in a parsed tree: the sign is a `Neg`)."""

    value: float


@dataclass(frozen=True)
class Const(Node):
    """The constant pi or e."""

    name: str


@dataclass(frozen=True)
class Var(Node):
    """The variable x or y."""

    name: str


@dataclass(frozen=True)
class Neg(Node):
    """Unary minus."""

    operand: Node


@dataclass(frozen=True)
class BinOp(Node):
    """A binary operation; `op` is one of + - * / **."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    """A whitelisted function of one argument."""

    func: str
    arg: Node


ZERO, ONE, TWO = Num(0.0), Num(1.0), Num(2.0)


def variables(node: Node) -> frozenset[str]:
    """The variables (x, y) that appear in the tree."""
    match node:
        case Var(name):
            return frozenset((name,))
        case Neg(a) | Call(_, a):
            return variables(a)
        case BinOp(_, a, b):
            return variables(a) | variables(b)
    return frozenset()


# --- tokenizer -----------------------------------------------------------------------------------

# ASCII only on purpose: \d would also match other scripts' digits, which float() accepts.
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = " \t\r\n"
_OPERATORS = ("**", "^", "+", "-", "*", "/", "(", ")")  # "**" before "*": longest match first
_ALLOWED = "numbers, x, y, pi, e, + - * / ** ^, parentheses and " + ", ".join(FUNCTIONS)

# Characters a learner (or an attacker) is likely to try, with what to do instead.
_CHARACTER_HINTS: dict[str, str] = {
    ".": "a '.' may only appear inside a number such as 0.5 (no attribute access)",
    ",": "every function takes exactly one argument, and there are no tuples",
    "=": "type only the right-hand side, e.g. x**2 + y**2",
    ";": "type a single expression",
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    "[": "use ( ) for grouping",
    "]": "use ( ) for grouping",
    "{": "use ( ) for grouping",
    "}": "use ( ) for grouping",
    "π": "write pi",
    "−": "use the ASCII minus '-'",
    "×": "use * for a product",
    "·": "use * for a product",
    "÷": "use / for a quotient",
    "²": "write x**2 or x^2",
}
_NAME_HINTS: dict[str, str] = {"ln": "log is the natural logarithm", "pow": "write x**2 or x^2"}


@dataclass(frozen=True)
class Token:
    """One token: kind is "number", "name", "op" or "end"; `pos` indexes the original text."""

    kind: str
    text: str
    pos: int


def _describe(ch: str) -> str:
    """A character as the page should show it: quoted, with its code point when not plain ASCII."""
    if ch == "'":
        return '"\'"'
    if ch.isascii() and ch.isprintable():
        return f"'{ch}'"
    return f"U+{ord(ch):04X}" if not ch.isprintable() else f"'{ch}' (U+{ord(ch):04X})"


def _unknown_name(name: str, pos: int) -> ExpressionError:
    hint = _NAME_HINTS.get(name)
    if hint is None and name.lower() in (*FUNCTIONS, *VARIABLES, *CONSTANTS):
        hint = f"names are case-sensitive: did you mean '{name.lower()}'?"
    allowed = "x, y, pi, e and the functions " + ", ".join(FUNCTIONS)
    return ExpressionError(
        f"unknown name '{name}' at position {pos + 1}"
        + (f" ({hint})" if hint else "")
        + f"; allowed names: {allowed}",
        pos,
    )


def tokens(text: str) -> Iterator[Token]:
    """The tokens of `text`, lazily, so the first error reported is the leftmost one."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _SPACE:
            i += 1
        elif m := _NUMBER.match(text, i):
            yield Token("number", m.group(), i)
            i = m.end()
        elif m := _NAME.match(text, i):
            name = m.group()
            if name not in (*VARIABLES, *CONSTANTS, *FUNCTIONS):
                raise _unknown_name(name, i)
            yield Token("name", name, i)
            i = m.end()
        elif op := next((op for op in _OPERATORS if text.startswith(op, i)), None):
            yield Token("op", "**" if op == "^" else op, i)
            i += len(op)
        else:
            hint = _CHARACTER_HINTS.get(ch, f"allowed are {_ALLOWED}")
            raise ExpressionError(f"{_describe(ch)} at position {i + 1} is not allowed: {hint}", i)
    yield Token("end", "", len(text))


# --- parser --------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the grammar in the module docstring, one method per rule."""

    def __init__(self, text: str) -> None:
        self.tokens = tokens(text)
        self.current = next(self.tokens)
        self.depth = 0

    def advance(self) -> Token:
        token, self.current = self.current, next(self.tokens, self.current)
        return token

    def at(self, *ops: str) -> bool:
        return self.current.kind == "op" and self.current.text in ops

    @contextmanager
    def nested(self, token: Token) -> Iterator[None]:
        # Bounds the recursion (and the tree depth) whatever the text: Python's stack is finite.
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExpressionError(
                f"the expression nests more than {MAX_NESTING} levels deep at position "
                f"{token.pos + 1} (each '(', function call, sign and exponent is a level)",
                token.pos,
            )
        yield
        self.depth -= 1

    def expression(self) -> Node:
        node = self.term()
        while self.at("+", "-"):
            op = self.advance().text
            node = BinOp(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.at("*", "/"):
            op = self.advance().text
            node = BinOp(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if not self.at("+", "-"):
            return self.power()
        sign = self.advance()
        with self.nested(sign):
            operand = self.unary()
        return Neg(operand) if sign.text == "-" else operand

    def power(self) -> Node:
        base = self.atom()
        if not self.at("**"):
            return base
        op = self.advance()
        with self.nested(op):
            exponent = self.unary()
        _check_exponent(exponent, op)
        return BinOp("**", base, exponent)

    def atom(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            return _number(token)
        if token.kind == "name":
            self.advance()
            if token.text in VARIABLES:
                return Var(token.text)
            if token.text in CONSTANTS:
                return Const(token.text)
            return self.call(token)
        if self.at("("):
            self.advance()
            with self.nested(token):
                inner = self.expression()
            self.close(token)
            return inner
        raise _unexpected(token)

    def call(self, name: Token) -> Node:
        if not self.at("("):
            raise ExpressionError(
                f"the function '{name.text}' at position {name.pos + 1} must be followed by "
                f"'(' as in {name.text}(x)",
                name.pos,
            )
        self.advance()
        if self.at(")"):
            raise ExpressionError(
                f"'{name.text}' at position {name.pos + 1} needs an argument, as in {name.text}(x)",
                name.pos,
            )
        with self.nested(name):
            arg = self.expression()
        self.close(name)
        return Call(name.text, arg)

    def close(self, opener: Token) -> None:
        """Consume the ')' that matches `opener` (a '(' or a function name)."""
        if self.at(")"):
            self.advance()
            return
        if self.current.kind == "end":
            raise ExpressionError(
                f"missing ')' to close the '(' opened at position {opener.pos + 1}", opener.pos
            )
        raise _missing_operator(self.current)

    def finish(self) -> None:
        token = self.current
        if token.kind == "end":
            return
        if self.at(")"):
            raise ExpressionError(
                f"unmatched ')' at position {token.pos + 1}: there is no '(' to close", token.pos
            )
        raise _missing_operator(token)


def _unexpected(token: Token) -> ExpressionError:
    expected = "a number, x, y, pi, e, a function or '('"
    if token.kind == "end":
        return ExpressionError(f"the expression ends too early: expected {expected}", token.pos)
    return ExpressionError(
        f"unexpected '{token.text}' at position {token.pos + 1}: expected {expected}", token.pos
    )


def _missing_operator(token: Token) -> ExpressionError:
    return ExpressionError(
        f"missing operator before '{token.text}' at position {token.pos + 1} (write 2*x, not 2x)",
        token.pos,
    )


def _number(token: Token) -> Num:
    value = float(token.text)  # the text matched _NUMBER, so float() cannot fail here
    if not math.isfinite(value):
        raise ExpressionError(
            f"the number {token.text} at position {token.pos + 1} is too large", token.pos
        )
    return Num(value)


def _check_exponent(exponent: Node, op: Token) -> None:
    """Reject a constant exponent outside ±MAX_EXPONENT (or not finite); x- or y-exponents pass."""
    if variables(exponent):
        return
    value = constant_value(exponent)
    if not (math.isfinite(value) and abs(value) <= MAX_EXPONENT):
        raise ExpressionError(
            f"the exponent after '{op.text}' at position {op.pos + 1} is {value:g}: an exponent "
            f"without x or y must be a finite number within ±{MAX_EXPONENT:g}",
            op.pos,
        )


def parse(text: str) -> Node:
    """The tree of a whitelisted f(x, y); anything else raises ExpressionError (a ValueError)."""
    if not isinstance(text, str):
        raise TypeError(f"an expression is text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}"
        )
    if not text.strip(_SPACE):
        raise ExpressionError("the expression is empty: type a function of x and y, e.g. x**2 + y")
    parser = _Parser(text)
    tree = parser.expression()
    parser.finish()
    return tree


# --- evaluation on tensors -----------------------------------------------------------------------

_BINARY: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "+": torch.add,
    "-": torch.sub,
    "*": torch.mul,
    "/": torch.div,
    "**": torch.pow,
}
# The torch op behind each whitelisted function name (also the autograd oracle's table).
FUNCTION_OPS: dict[str, Callable[[Tensor], Tensor]] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "sign": torch.sign,
    "tanh": torch.tanh,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "sigmoid": torch.sigmoid,
}


def evaluate(node: Node, x: Tensor, y: Tensor, memo: dict[int, Tensor] | None = None) -> Tensor:
    """The tree's value at float tensors x, y (same shape); constants come back 0-dimensional."""
    # Derivative trees share subtrees with f's tree; the memo computes each shared node once.
    memo = {} if memo is None else memo
    key = id(node)
    if key in memo:
        return memo[key]
    match node:
        case Num(value):
            # Constants are tensors too, so every operation is tensor arithmetic: domain errors
            # become NaN/inf instead of Python exceptions (float ** float can raise).
            out = torch.tensor(value, dtype=x.dtype, device=x.device)
        case Const(name):
            out = torch.tensor(CONSTANTS[name], dtype=x.dtype, device=x.device)
        case Var(name):
            out = x if name == "x" else y
        case Neg(a):
            out = -evaluate(a, x, y, memo)
        case BinOp(op, a, b):
            out = _BINARY[op](evaluate(a, x, y, memo), evaluate(b, x, y, memo))
        case Call(func, a):
            out = FUNCTION_OPS[func](evaluate(a, x, y, memo))
        case _:
            raise TypeError(f"not an expression node: {node!r}")
    memo[key] = out
    return out


def constant_value(node: Node) -> float:
    """The value of a tree without x or y, in float64 (inf or NaN rather than an exception)."""
    zero = torch.zeros((), dtype=torch.float64)
    return float(evaluate(node, zero, zero))


# --- symbolic differentiation --------------------------------------------------------------------


def _fold(op: str, a: Num, b: Num) -> Node:
    """a op b computed now, unless the result would not be a finite number."""
    value = constant_value(BinOp(op, a, b))
    return Num(value) if math.isfinite(value) else BinOp(op, a, b)


def _is(node: Node, value: float) -> bool:
    return isinstance(node, Num) and node.value == value


def _neg(a: Node) -> Node:
    if isinstance(a, Num):
        return Num(-a.value)
    return a.operand if isinstance(a, Neg) else Neg(a)


def _add(a: Node, b: Node) -> Node:
    if _is(a, 0.0):
        return b
    if _is(b, 0.0):
        return a
    if isinstance(a, Num) and isinstance(b, Num):
        return _fold("+", a, b)
    return BinOp("+", a, b)


def _sub(a: Node, b: Node) -> Node:
    if _is(b, 0.0):
        return a
    if _is(a, 0.0):
        return _neg(b)
    if isinstance(a, Num) and isinstance(b, Num):
        return _fold("-", a, b)
    return BinOp("-", a, b)


def _mul(a: Node, b: Node) -> Node:
    # 0 * u -> 0 even where u is inf or NaN: a factor that does not depend on the variable
    # contributes nothing, which is also what autograd does (it never visits that branch).
    if _is(a, 0.0) or _is(b, 0.0):
        return ZERO
    if _is(a, 1.0):
        return b
    if _is(b, 1.0):
        return a
    if _is(a, -1.0):
        return _neg(b)
    if isinstance(a, Num) and isinstance(b, Num):
        return _fold("*", a, b)
    return BinOp("*", a, b)


def _div(a: Node, b: Node) -> Node:
    if _is(a, 0.0):
        return ZERO
    if _is(b, 1.0):
        return a
    if isinstance(a, Num) and isinstance(b, Num):
        return _fold("/", a, b)
    return BinOp("/", a, b)


def _pow(a: Node, b: Node) -> Node:
    if _is(b, 1.0):
        return a
    if _is(b, 0.0):
        return ONE  # torch.pow(u, 0) is 1 everywhere, inf and NaN included
    if isinstance(a, Num) and isinstance(b, Num):
        return _fold("**", a, b)
    return BinOp("**", a, b)


# f'(u) for each function, given the call node f(u): reusing the node itself (exp, tanh,
# sigmoid, sqrt, tan) evaluates f(u) once for both f and its derivative, as autograd does.
_FUNCTION_DERIVATIVES: dict[str, Callable[[Call], Node]] = {
    "sin": lambda c: Call("cos", c.arg),
    "cos": lambda c: _neg(Call("sin", c.arg)),
    "tan": lambda c: _add(ONE, _pow(c, TWO)),  # 1 + tan^2 u
    "exp": lambda c: c,
    "log": lambda c: _div(ONE, c.arg),
    "sqrt": lambda c: _div(Num(0.5), c),  # 1 / (2 sqrt u)
    "abs": lambda c: Call("sign", c.arg),  # 0 at u = 0, as autograd
    "sign": lambda c: ZERO,
    "tanh": lambda c: _sub(ONE, _pow(c, TWO)),  # 1 - tanh^2 u
    "sinh": lambda c: Call("cosh", c.arg),
    "cosh": lambda c: Call("sinh", c.arg),
    "sigmoid": lambda c: _mul(c, _sub(ONE, c)),  # sigma (1 - sigma)
}


def _power_derivative(node: BinOp, var: str) -> Node:
    r"""$d(u^v) = v\,u^{v-1}\,du + u^v \ln(u)\,dv$; a term whose du or dv is 0 drops out."""
    u, v = node.left, node.right
    du, dv = derivative(u, var), derivative(v, var)
    through_base = _mul(_mul(v, _pow(u, _sub(v, ONE))), du)
    through_exponent = _mul(_mul(node, Call("log", u)), dv)
    return _add(through_base, through_exponent)


def derivative(node: Node, var: str) -> Node:
    r"""$\partial\,\mathrm{node} / \partial\,\mathrm{var}$ by the chain rule, simplified."""
    if var not in variables(node):
        return ZERO
    match node:
        case Var():
            return ONE  # the only variable that gets here is var itself
        case Neg(a):
            return _neg(derivative(a, var))
        case BinOp("+", a, b):
            return _add(derivative(a, var), derivative(b, var))
        case BinOp("-", a, b):
            return _sub(derivative(a, var), derivative(b, var))
        case BinOp("*", a, b):
            return _add(_mul(derivative(a, var), b), _mul(a, derivative(b, var)))
        case BinOp("/", a, b):
            # d(a/b) = da/b - (a/b)/b db: the order autograd uses, and b^2 never overflows alone
            return _sub(_div(derivative(a, var), b), _mul(_div(_div(a, b), b), derivative(b, var)))
        case BinOp("**"):
            return _power_derivative(node, var)
        case Call(func, a):
            return _mul(_FUNCTION_DERIVATIVES[func](node), derivative(a, var))
    raise TypeError(f"not an expression node: {node!r}")


# --- printing ------------------------------------------------------------------------------------

# Binding strength: a child binding more weakly than its slot allows gets parentheses.
_ADD, _MUL, _UNARY_PREC, _POW, _ATOM = 1, 2, 3, 4, 5
_PRECEDENCE = {"+": _ADD, "-": _ADD, "*": _MUL, "/": _MUL, "**": _POW}


def _precedence(node: Node) -> int:
    match node:
        case BinOp(op):
            return _PRECEDENCE[op]
        case Neg():
            return _UNARY_PREC
        case Num(value) if value < 0:
            return _UNARY_PREC  # only derivative trees hold negative numbers
    return _ATOM


def _number_text(value: float) -> str:
    """The shortest text that reads back as exactly `value` (integers without '.0')."""
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _wrap(text: str, child: Node, minimum: int) -> str:
    return text if _precedence(child) >= minimum else f"({text})"


def to_text(node: Node) -> str:
    """Normalised text with only the parentheses the tree needs: parse(to_text(t)) == t."""
    match node:
        case Num(value):
            return _number_text(value)
        case Const(name) | Var(name):
            return name
        case Neg(a):
            inner = _wrap(to_text(a), a, _UNARY_PREC)
            # "- -x", not "-(-x)": the printed text never nests deeper than the parsed one.
            return f"- {inner}" if inner.startswith("-") else f"-{inner}"
        case BinOp("**", a, b):
            # right-associative: the base must be an atom, the exponent may be a sign or a power
            return f"{_wrap(to_text(a), a, _ATOM)}**{_wrap(to_text(b), b, _UNARY_PREC)}"
        case BinOp(op, a, b):
            # left-associative: a right operand of the same strength keeps its parentheses
            prec = _PRECEDENCE[op]
            return f"{_wrap(to_text(a), a, prec)} {op} {_wrap(to_text(b), b, prec + 1)}"
        case Call(func, a):
            return f"{func}({to_text(a)})"
    raise TypeError(f"not an expression node: {node!r}")


_LATEX_FUNCTIONS = {
    "sin": r"\sin",
    "cos": r"\cos",
    "tan": r"\tan",
    "exp": r"\exp",
    "log": r"\ln",
    "tanh": r"\tanh",
    "sinh": r"\sinh",
    "cosh": r"\cosh",
    "sigmoid": r"\sigma",
    "sign": r"\operatorname{sign}",
}


def _latex_number(value: float) -> str:
    text = _number_text(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def _latex_paren(text: str) -> str:
    return rf"\left({text}\right)"


def _latex_precedence(node: Node) -> int:
    # A \frac is self-delimiting: it needs no parentheses as an operand of + - * or a sign.
    return _ATOM if isinstance(node, BinOp) and node.op == "/" else _precedence(node)


def to_latex(node: Node) -> str:
    """LaTeX for the page: \\frac for /, \\cdot for *, braces for exponents."""
    match node:
        case Num(value):
            return _latex_number(value)
        case Const(name):
            return r"\pi" if name == "pi" else "e"
        case Var(name):
            return name
        case Neg(a):
            inner = to_latex(a)
            if _latex_precedence(a) < _MUL or inner.startswith("-"):
                inner = _latex_paren(inner)
            return f"-{inner}"
        case BinOp("/", a, b):
            return rf"\frac{{{to_latex(a)}}}{{{to_latex(b)}}}"
        case BinOp("**", a, b):
            base = to_latex(a)
            # Numbers like 1 \times 10^{-5}, signs, sums and fractions need parentheses as bases.
            bare = isinstance(a, Var | Const | Call) or (
                isinstance(a, Num) and _precedence(a) == _ATOM
            )
            if not bare or r"\times" in base:
                base = _latex_paren(base)
            return f"{base}^{{{to_latex(b)}}}"
        case BinOp(op, a, b):
            prec = _PRECEDENCE[op]
            left = to_latex(a)
            left = left if _latex_precedence(a) >= prec else _latex_paren(left)
            right = to_latex(b)
            # Write a - (b + c) and a \cdot (-b): a sign right after an operator reads badly.
            if _latex_precedence(b) <= prec or right.startswith("-"):
                right = _latex_paren(right)
            symbol = r"\cdot" if op == "*" else op
            return f"{left} {symbol} {right}"
        case Call("sqrt", a):
            return rf"\sqrt{{{to_latex(a)}}}"
        case Call("abs", a):
            return rf"\left|{to_latex(a)}\right|"
        case Call(func, a):
            return f"{_LATEX_FUNCTIONS[func]}{_latex_paren(to_latex(a))}"
    raise TypeError(f"not an expression node: {node!r}")


# --- the parsed function with its gradient -------------------------------------------------------


def _full(value: Tensor, like: Tensor) -> Tensor:
    """`value` as a new tensor of like's shape (a constant expression evaluates 0-dimensional)."""
    # A copy, never a view: f("x") must not hand back a window into the caller's points.
    return torch.broadcast_to(value, like.shape).clone(memory_format=torch.contiguous_format)


@dataclass(frozen=True, eq=False)
class Expression:
    """A parsed f(x, y) with its symbolic partial derivatives, evaluated on (..., 2) points."""

    tree: Node
    dx: Node
    dy: Node

    @classmethod
    def from_text(cls, text: str) -> Expression:
        """Parse `text` and differentiate it once, symbolically."""
        tree = parse(text)
        return cls(tree, derivative(tree, "x"), derivative(tree, "y"))

    def f(self, xy: Tensor) -> Tensor:
        """f at float points xy (..., 2) -> (...)."""
        x, y = xy.unbind(-1)  # (...), (...)
        return _full(evaluate(self.tree, x, y), x)

    def gradient(self, xy: Tensor) -> Tensor:
        r"""$(\partial_x f, \partial_y f)$ at float points xy (..., 2) -> (..., 2)."""
        x, y = xy.unbind(-1)  # (...), (...)
        memo: dict[int, Tensor] = {}  # shared by both partials: common subtrees run once
        gx = evaluate(self.dx, x, y, memo)
        gy = evaluate(self.dy, x, y, memo)
        return torch.stack([_full(gx, x), _full(gy, x)], dim=-1)  # (..., 2)
