"""What a teacher and a class see of the frame: the share link, lessons, and guided tours."""

from __future__ import annotations

import io
import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import segno
import streamlit as st

from ui import lesson as lessons
from ui.lesson import Lesson, Question, Tally, safe_markdown

if TYPE_CHECKING:
    from ui.page import Frame
    from ui.tours import Step

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
QR_WIDTH = 220


@st.cache_data(max_entries=256)
def qr_png(link: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


def network_link(link: str) -> str | None:
    """`link` as learners on the network reach it; None if this server only listens locally."""
    parts = urlsplit(link)
    if parts.hostname not in LOOPBACK_HOSTS:
        return link
    address = st.get_option("server.address")
    if address and address in LOOPBACK_HOSTS:
        return None
    from streamlit import net_util  # the same lookup Streamlit uses for its "Network URL" line

    ip = net_util.get_internal_ip()
    if not ip or ip.startswith("127."):
        return None
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{ip}{port}"))


# --- share this view, and make a lesson of it ---


def draw_share(frame: Frame, tally: Tally) -> None:
    """The link (and QR code) that reopens this view; a teacher makes a lesson of it here."""
    link = frame.share_link()
    with st.expander(frame.text["frame_share"], icon=":material/share:"):
        st.caption(frame.text["frame_share_caption"])
        st.code(link, language=None, wrap_lines=True)
        class_link = network_link(link)
        if class_link is None:
            st.caption(frame.text["frame_share_local_only"])
        else:
            if class_link != link:
                st.caption(frame.text["frame_share_network"])
                st.code(class_link, language=None, wrap_lines=True)
            st.image(qr_png(class_link), caption=frame.text["frame_share_qr"], width=QR_WIDTH)
        if not frame.lesson:
            _draw_builder(frame, tally)


def _draw_builder(frame: Frame, tally: Tally) -> None:
    """Which controls learners may change, a prompt and a question: the lesson link and QR."""
    t = frame.text
    if not st.toggle(t["frame_lesson_make"], key="lesson_make", help=t["frame_lesson_make_help"]):
        return
    controls = frame.controls()
    open_keys = st.multiselect(
        t["frame_lesson_open"],
        list(controls),
        format_func=controls.__getitem__,
        key="lesson_make_open",
        placeholder=t["frame_lesson_open_none"],
    )
    hide = st.radio(
        t["frame_lesson_others"],
        ("lock", "hide"),
        format_func=lambda o: t[f"frame_lesson_{o}"],
        key="lesson_make_hide",
        horizontal=True,
    )
    prompt = st.text_area(
        t["frame_lesson_prompt"],
        max_chars=lessons.PROMPT_MAX,
        key="lesson_make_prompt",
        help=t["frame_lesson_prompt_help"],
    )
    lesson = Lesson(
        frame.page,
        frozenset(open_keys),
        hide == "hide",
        lessons.clean_text(prompt),
        _question_maker(frame),
    )
    link = frame.share_link(lesson=lessons.encode(lesson))
    class_link = network_link(link) or link
    st.caption(t["frame_lesson_link"])
    st.code(class_link, language=None, wrap_lines=True)
    if len(class_link) <= lessons.QR_MAX:
        st.image(qr_png(class_link), caption=t["frame_lesson_qr"], width=QR_WIDTH)
    else:
        st.caption(frame.t("frame_lesson_no_qr", length=len(class_link), limit=lessons.QR_MAX))
    st.caption(t["frame_lesson_not_exam"])
    if lesson.question is not None:
        _draw_tally(frame, lesson, lesson.question, tally)


def _question_maker(frame: Frame) -> Question | None:
    """The teacher's question, once it has a text and two choices (else a hint, and none)."""
    t = frame.text
    text = st.text_input(
        t["frame_lesson_question"], max_chars=lessons.QUESTION_MAX, key="lesson_make_question"
    )
    written = st.text_area(t["frame_lesson_choices"], key="lesson_make_choices", height=110)
    # Cut, then cleaned: the link must read back to the same lesson (its tally's key).
    lines = (lessons.clean_text(line[: lessons.CHOICE_MAX]) for line in written.splitlines())
    choices = [c for c in lines if c]
    choices = choices[: lessons.CHOICES_MAX]
    if len(choices) < 2:
        if text.strip() or choices:
            st.caption(t["frame_lesson_need_choices"])
        return None
    answer = st.selectbox(
        t["frame_lesson_answer"],
        range(len(choices)),
        format_func=choices.__getitem__,
        key="lesson_make_answer",
    )
    why = st.text_area(
        t["frame_lesson_why"], max_chars=lessons.EXPLANATION_MAX, key="lesson_make_why"
    )
    text = lessons.clean_text(text)
    return Question(text, tuple(choices), answer, lessons.clean_text(why)) if text else None


def _draw_tally(frame: Frame, lesson: Lesson, question: Question, tally: Tally) -> None:
    """How many learners chose each answer, on this server process."""
    counts = tally.counts(lesson.id)
    st.markdown(frame.t("frame_lesson_tally", n=sum(counts.values())))
    st.markdown(
        "\n".join(
            f"- {'✅ ' if i == question.answer else ''}{safe_markdown(choice)}: **{counts[i]}**"
            for i, choice in enumerate(question.choices)
        )
    )
    st.caption(frame.text["frame_lesson_tally_scope"])
    st.button(
        frame.text["frame_lesson_refresh"],
        key=f"lesson_refresh_{lesson.id}",
        icon=":material/refresh:",
    )


# --- a learner in a lesson ---


def draw_lesson(frame: Frame, lesson: Lesson, tally: Tally) -> None:
    """The teacher's prompt and question at the top of the page, and the way out."""
    with st.container(border=True, key="lesson"):
        st.markdown(f"**:material/school: {frame.text['frame_lesson_title']}**")
        if lesson.prompt:
            st.markdown(safe_markdown(lesson.prompt))
        if lesson.cut:
            st.caption(frame.text["frame_lesson_cut"])
        if lesson.question is not None:
            _draw_question(frame, lesson, lesson.question, tally)
        leave, note = st.columns([1, 2], vertical_alignment="center")
        leave.button(
            frame.text["frame_lesson_leave"],
            key="lesson_leave",
            on_click=frame.leave_lesson,
            icon=":material/logout:",
        )
        note.caption(frame.text["frame_lesson_not_exam"])


def _draw_question(frame: Frame, lesson: Lesson, question: Question, tally: Tally) -> None:
    """Predict, then reveal: the answer and the teacher's explanation come after the choice."""
    answered = st.session_state.get(f"_lesson_answer_{lesson.id}")
    st.markdown(f"**{frame.text['frame_lesson_question_label']}** {safe_markdown(question.text)}")
    pick = st.radio(
        frame.text["frame_lesson_your_answer"],
        range(len(question.choices)),
        index=None,
        format_func=lambda i: safe_markdown(question.choices[i]),
        key=f"lesson_pick_{lesson.id}",
        disabled=answered is not None,
        label_visibility="collapsed",
    )
    if answered is None:
        st.button(
            frame.text["frame_lesson_check"],
            key="lesson_check",
            type="primary",
            disabled=pick is None,
            help=frame.text["frame_lesson_pick_first"] if pick is None else None,
            on_click=_answer,
            args=(lesson, pick, tally),
        )
        return
    mine = safe_markdown(question.choices[answered])
    if answered == question.answer:
        st.success(frame.t("frame_lesson_right", mine=mine), icon=":material/check_circle:")
    else:
        right = safe_markdown(question.choices[question.answer])
        st.warning(frame.t("frame_lesson_wrong", mine=mine, answer=right), icon=":material/info:")
    if question.why:
        st.markdown(safe_markdown(question.why))
    with st.expander(frame.text["frame_lesson_class"], icon=":material/groups:"):
        _draw_tally(frame, lesson, question, tally)


def _answer(lesson: Lesson, pick: int | None, tally: Tally) -> None:
    if pick is None:
        return
    st.session_state[f"_lesson_answer_{lesson.id}"] = pick
    voter = st.session_state.setdefault("_lesson_voter", secrets.token_hex(8))
    tally.vote(lesson.id, voter, pick)


# --- the page's guided tour ---


def draw_tour(frame: Frame, tour: tuple[Step, ...], n: int | None) -> None:
    """The tour's start button, or step `n`: its question, the reveal, and back / next."""
    t = frame.text
    if n is None:
        st.button(
            frame.t("frame_tour_start", steps=len(tour)),
            key="tour_start",
            icon=":material/tour:",
            on_click=frame.go_to_step,
            args=(1,),
        )
        return
    step, prose = tour[n - 1], f"tour_{n}_"
    with st.container(border=True, key="tour"):
        st.caption(frame.t("frame_tour_step", n=n, steps=len(tour)))
        st.markdown(f"**{t[prose + 'title']}**  \n{t[prose + 'ask']}")
        pick = st.radio(
            t["frame_tour_predict"],
            step.choices,
            index=None,
            format_func=lambda c: t[prose + c],
            key=f"tour_pick_{frame.page}_{n}",
        )
        shown = f"_tour_shown_{frame.page}_{n}"
        if st.session_state.get(shown):
            if pick == step.answer:
                st.success(t["frame_tour_right"], icon=":material/check_circle:")
            else:
                answer = t[prose + step.answer]
                st.info(frame.t("frame_tour_wrong", answer=answer), icon=":material/info:")
            st.markdown(t[prose + "seen"])
        else:
            st.button(
                t["frame_tour_reveal"],
                key="tour_reveal",
                disabled=pick is None,
                help=t["frame_tour_pick_first"] if pick is None else None,
                on_click=st.session_state.__setitem__,
                args=(shown, True),
            )
        moves = st.container(horizontal=True)  # side by side, wrapping on a phone
        moves.button(
            t["frame_tour_back"],
            key="tour_back",
            disabled=n == 1,
            on_click=frame.go_to_step,
            args=(n - 1,),
            icon=":material/arrow_back:",
        )
        moves.button(
            t["frame_tour_next"],
            key="tour_next",
            disabled=n == len(tour),
            type="primary",
            on_click=frame.go_to_step,
            args=(n + 1,),
            icon=":material/arrow_forward:",
        )
        moves.button(
            t["frame_tour_end"],
            key="tour_end",
            on_click=frame.go_to_step,
            args=(0,),
            icon=":material/close:",
        )
