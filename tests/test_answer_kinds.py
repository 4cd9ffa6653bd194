"""The kind of answer a question asks for, and whether a sentence holds one (rag.answer_kinds).

Sentences are taken from the library's reports and the multilingual test documents."""

import pytest

from rag.answer_kinds import (
    AnswerKind,
    ExpectedAnswer,
    asked_period,
    asked_title,
    bare_words,
    counted_thing,
    defined_term,
    defines,
    expected_kind,
    figures,
    person_named,
    stated_periods,
)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many satellites make up the GPS constellation?", AnswerKind.COUNT),
        ("What is the number of exploration contracts the ISA has issued?", AnswerKind.COUNT),
        ("How much did Tokyo spend on energy research in 2005?", AnswerKind.MONEY),
        ("What was the street price of a kilogram of cocaine in Spain?", AnswerKind.MONEY),
        ("What would it cost a filling station to replace a tank?", AnswerKind.MONEY),
        ("What share of Denmark's electricity came from wind?", AnswerKind.SHARE),
        ("What average interest rate did the Treasury pay foreign holders?", AnswerKind.SHARE),
        ("By how much has the cost of wind power fallen?", AnswerKind.AMOUNT),
        ("How much floor space did the contractor manage?", AnswerKind.AMOUNT),
        ("What was the dollar-yen exchange rate after the intervention?", AnswerKind.AMOUNT),
        (
            "What concentration of the fissile isotope does bomb-grade uranium reach?",
            AnswerKind.AMOUNT,
        ),
        ("At what water depths would the mining machines work?", AnswerKind.AMOUNT),
        ("What minimum performance score must the contractor reach?", AnswerKind.AMOUNT),
        ("When did Panama take over the canal?", AnswerKind.DATE),
        ("Since what year has the United States been a net debtor?", AnswerKind.DATE),
        ("How long ago did NOAA last issue a license?", AnswerKind.DATE),
        ("For how long was the port leased?", AnswerKind.DURATION),
        ("¿Cuántos buques cruzan el canal cada día?", AnswerKind.COUNT),
        ("¿Cuándo se inauguraron las nuevas esclusas?", AnswerKind.DATE),
        ("Combien de temps faut-il à une navette pour traverser ?", AnswerKind.DURATION),
        ("Сколько стоит билет от Москвы до Владивостока?", AnswerKind.MONEY),
        ("Сколько километров от Москвы до Владивостока?", AnswerKind.AMOUNT),
        ("Which country will give the most to the seabed authority's budget?", AnswerKind.COUNTRY),
        ("¿Qué país compra más cobre peruano?", AnswerKind.COUNTRY),
        ("Quels pays utilisent le tunnel ?", AnswerKind.COUNTRY),
        ("Who leads the Space Force?", None),  # an office may answer
        ("Which senator praised the ceasefire?", AnswerKind.PERSON),
        ("Which general currently heads the training command?", AnswerKind.PERSON),
        ("Who is the current Secretary of the Air Force?", AnswerKind.PERSON),
        ("Who was Peru's president when police seized the cocaine?", AnswerKind.PERSON),
        ("Who took over as head of the seabed authority in 2025?", AnswerKind.PERSON),
        ("Who is the top uniformed officer of the Space Force?", AnswerKind.PERSON),
        ("¿Qué ministro firmó el acuerdo?", AnswerKind.PERSON),
        ("What general approach did the auditors take?", None),
        ("What executive order did the President sign?", None),
        ("Which official figures does the report use?", None),
        ("Who has more deployed warheads, Washington or Moscow?", None),
        ("Who is the Chief of Space Operations and whom does the CSO report to?", None),
        ("Why did the seabed authority miss its deadline?", None),
        # a conjunction, not a question of time
        ("¿Qué hicieron las autoridades cuando bajó el agua del embalse?", None),
        ("What did Congress do when the agreement expired?", None),
    ],
)
def test_the_kind_of_figure_a_question_asks_for(question, kind):
    assert expected_kind(question) is kind


def test_figures_read_money_shares_dates_labels_and_units():
    found = {
        f.value: f
        for f in figures(
            "On April 9, 2026, AUKUS Pillar 1 cost AU$50.3 billion (65%) over 99 years, "
            "about half of the 14th plan's 24-hour budget; 2,600 warheads, (3) three ships."
        )
    }
    assert found["9"].date and found["2026"].date
    assert found["1"].ordinal and found["14"].ordinal and found["3"].ordinal
    assert found["50.3"].money and not found["50.3"].date
    assert found["65"].share and not found["65"].ordinal  # "(65%)" is a share, not a list mark
    assert found["99"].unit == "year" and found["24"].unit == "hour"
    assert found["half"].share
    assert found["2600"].value == "2600" and not found["2600"].date
    assert found["three"].spelled
    assert "billion" not in found  # part of "$50.3 billion", not a figure of its own


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        (
            "How many households put up solar panels under Tokyo's subsidy program?",
            "As a result of the project, over 253,000 homes installed solar systems that "
            "collectively generate over 931 megawatts of power.",
        ),
        (
            "Of the roughly 1,000 ships stuck around the Gulf, how many were waiting inside?",
            "An estimated 1,000 ships are in a holding pattern in the Persian Gulf region: 800 "
            "ships in the Persian Gulf inside the Strait waiting to transit eastbound.",
        ),
        (
            "How many atomic weapons did Minsk's leader say Moscow had stationed in Belarus?",
            "Belarusian President Alexander Lukashenko stated in April 2024 that Russia deployed "
            "“several dozen” nuclear weapons to Belarus.",
        ),
        (
            "Roughly what share of all U.S. babies take part in WIC?",
            "Women on WIC are exposed to advertising directed at the general population (about "
            "half of all infants are on WIC).",
        ),
        (
            "What share of the space service's FY2027 request would go to RDT&E?",
            "Of the discretionary request for 2027, $38.4 billion (65%) is for RDT&E.",
        ),
        (
            "How much did the United States borrow from abroad in 2025?",
            "Borrowing from abroad was $1.1 trillion in 2025, down slightly from $1.2 trillion "
            "in 2024.",
        ),
        (
            "For how long was the northern Australian harbour leased in 2015?",
            "it was leased to a PRC-based company for 99 years in 2015",
        ),
        (
            "How many time zones does the line from Moscow to Vladivostok pass through?",
            "Маршрут проходит через восемь часовых поясов.",
        ),
        (
            "¿Cuántos kilómetros mide el canal?",
            "El canal tiene unos 80 kilómetros de longitud entre ambos océanos.",
        ),
    ],
)
def test_a_sentence_with_a_figure_of_the_kind_asked_can_answer(question, sentence):
    assert ExpectedAnswer.of(question).held_by(sentence)


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        (  # "24-hour" counts hours and "three-dimensional" dimensions, not satellites
            "How many satellites make up the GPS constellation run by the Space Force?",
            "The GPS Enterprise provides 24-hour-a-day, worldwide, all-weather "
            "three-dimensional positioning, navigation, and timing information.",
        ),
        (  # the 40 days are the question's own; the rest are dates and a hyphened duration
            "How many American troops died in the 40 days of fighting before the truce?",
            "On April 7, 2026, the United States and Iran agreed to a two-week ceasefire, "
            "which may bring a temporary halt to 40 days of conflict.",
        ),
        (  # money and a percentage are not a count of machines
            "How many cryptocurrency ATMs operate in the United States?",
            "FinCEN reported suspicious activity reports of approximately $119 billion "
            "associated with crypto, or 11.9% of U.S.-based cryptocurrency industry activity.",
        ),
        (  # an amount of money is not a share of output
            "What share of its national output did Canberra devote to the military in 2025?",
            "The government plans to allocate an additional AU$50.3 billion to defense "
            "spending through 2034.",
        ),
        (  # years are not an exchange rate
            "What was the dollar-yen exchange rate after the 2011 intervention?",
            "Since the mid-1990s, the United States has intervened on three occasions—in 1998, "
            "2000, and 2011—using ESF and Fed resources.",
        ),
        (  # a count is not a price
            "What is the estimated dollar value of the metals in the nodules?",
            "The ISA has issued 17 exploration contracts for polymetallic nodules.",
        ),
        (  # "Pillar 1" is a label
            "How many submarines has AUKUS delivered?",
            "AUKUS Pillar 1 concerns nuclear-powered attack submarines.",
        ),
        (  # the scale of a table's figures
            "How many Mexicans work in maquiladora export plants?",
            "U.S.-Mexico Goods Trade 2006-2025 Current U.S. $ in billions",
        ),
        (
            "¿Cuánto cuesta un tránsito por el canal?",
            "El canal tiene unos 80 kilómetros de longitud entre ambos océanos.",
        ),
    ],
)
def test_a_sentence_without_a_figure_of_the_kind_asked_cannot_answer(question, sentence):
    assert not ExpectedAnswer.of(question).held_by(sentence)


def test_a_question_asking_for_no_figure_accepts_any_sentence():
    expected = ExpectedAnswer.of("Which city does Beijing's plan cast as the financial hub?")
    assert expected.kind is None
    assert expected.held_by("The plan features Shanghai as China's financial center.")


def test_a_table_rows_money_or_share_is_any_amount_its_header_gives_the_unit():
    spent = ExpectedAnswer.of("How much did the agency spend on harbour dredging in 2023?")
    row = "Harbour dredging | 2022: 3,875 | 2023: 4,020"
    assert spent.held_by(row, table_row=True)
    assert not spent.held_by(row)  # in prose, a bare number is not an amount of money
    assert not spent.held_by("Harbour dredging | 2023: 2023", table_row=True)  # a year only


@pytest.mark.parametrize(
    ("question", "period"),
    [
        ("How much did the United States borrow from abroad in 2025?", (2025, 2025)),
        ("How much federal debt did Chinese holders have at the end of 2021?", (2021, 2021)),
        ("How many submarines had been delivered by April 2026?", (2026, 2026)),
        ("How many governments opposed seabed mining as of spring 2026?", (2026, 2026)),
        (
            "How much did Washington spend on child support in fiscal 2005, and on what?",
            (2005, 2005),
        ),
        ("What share of the request would go to research in FY2027?", (2027, 2027)),
        ("Between 2008 and 2017, how many people were kept off military bases?", (2008, 2017)),
        ("What response rate did the survey average from 1997 to 2001?", (1997, 2001)),
        ("¿Cuántos buques cruzaron el canal en 2024?", (2024, 2024)),
        ("How much value was locked in defi at the late-2021 peak?", (2021, 2021)),
        # a year before a noun names a thing, not the time asked about
        ("How many centrifuges were spinning at Natanz before the 2025 strikes?", None),
        ("What share of Bitcoin activity did a 2022 academic study judge criminal?", None),
        ("How long did the FY2025 defense authorization law give the Pentagon?", None),
        ("What does the 2024 NDAA authorize?", None),
        ("How much is the debt in 2025 dollars?", None),
    ],
)
def test_the_years_a_question_asks_about(question, period):
    assert asked_period(question) == period


def test_the_years_and_spans_of_years_a_sentence_states():
    sentence = (
        "The FY2024 NDAA authorized purchases in the 2030s; grants ran in fiscal years 1999 "
        "through 2002 and from 2005-2007, costing $2025 million."
    )
    assert stated_periods(sentence) == [(2024, 2024), (2030, 2039), (1999, 2002), (2005, 2007)]


@pytest.mark.parametrize(
    ("question", "sentence", "answers"),
    [
        (  # the 2030s and the 2024 law are not April 2026
            "How many Virginia-class submarines had the United States delivered by April 2026?",
            "AUKUS Pillar 1 would allow Australia to purchase 3-5 U.S. Virginia-class "
            "submarines in the 2030s as authorized in the 2024 National Defense Authorization Act.",
            False,
        ),
        (
            "How much U.S. federal debt did mainland Chinese holders have at the end of 2021?",
            "As of December 2025, foreign holdings of federal debt totaled approximately "
            "$9.2 trillion.",
            False,
        ),
        (  # one of its years is the one asked about
            "How much did the United States borrow from abroad in 2025?",
            "Borrowing from abroad was $1.1 trillion in 2025, down slightly from $1.2 trillion "
            "in 2024.",
            True,
        ),
        (  # a span of years holding the one asked about
            "How much could each state win per year in 2001?",
            "This provision awarded up to $25 million in each of fiscal years 1999 through 2002.",
            True,
        ),
        (  # a sentence that states no year may be about any time
            "How many vessels were enrolled in the tanker program at the start of 2026?",
            "Nine vessels were enrolled in the TSP.",
            True,
        ),
    ],
)
def test_a_sentence_only_about_other_years_cannot_answer(question, sentence, answers):
    assert ExpectedAnswer.of(question).held_by(sentence) is answers


def test_which_country_is_answered_by_a_country_the_question_does_not_name():
    expected = ExpectedAnswer.of(
        "Which country supplies about half of the paraxylene that Charleston imports?"
    )
    assert not expected.held_by(
        "Charleston, SC, in particular is reliant on paraxylene, a chemical used to "
        "manufacture plastic containers."
    )
    assert expected.held_by("About half of its waterborne imports are from Saudi Arabia.")
    from_china = ExpectedAnswer.of("Which countries buy the most from China?")
    assert not from_china.held_by("Chinese exports grew by 5 percent.")
    assert from_china.held_by("Chinese exports to Vietnam grew by 5 percent.")


@pytest.mark.parametrize(
    ("question", "thing"),
    [
        ("How many satellites make up the GPS constellation?", "satellites"),
        ("How many U.S. Navy warships were escorting merchant vessels?", "warships"),
        (
            "How many strategic warheads, counting both deployed and stored ones, are there?",
            "warheads",
        ),
        ("About how many TV and print formula ads ran nationally in 1999?", "ads"),
        ("How many U.S.-flagged tankers were signed up for the program?", "tankers"),
        ("Between 2008 and 2017, how many people were kept off military bases?", "people"),
        ("What is the number of exploration contracts the ISA has issued?", "contracts"),
        # no noun to tell: what is counted was said before
        ("Of the 1,000 ships stuck in the Gulf, how many were waiting to sail east?", None),
        ("How much did Tokyo spend on energy research?", None),  # not a count
        ("¿Cuántos buques cruzan el canal cada día?", None),  # English only
    ],
)
def test_what_a_count_question_counts(question, thing):
    assert counted_thing(question) == thing


@pytest.mark.parametrize(
    ("question", "sentence", "words"),
    [
        (
            "How many ships?",
            "The Space Force's three field commands are Combat Forces Command and STARCOM.",
            ["commands"],
        ),
        (
            "How many ships?",
            "Russia has around 2,600 deployed and nondeployed strategic nuclear warheads.",
            ["warheads"],
        ),
        (
            "How many ships?",
            "Space Force carries out four cross-cutting enterprise functions: intelligence.",
            ["functions"],
        ),
        (
            "How many ships?",
            "About 12 million people living in poverty received benefits.",
            ["people"],
        ),
        (
            "How many points did the plan sent to Tehran hold?",
            "The United States transmitted a 15-point proposal, which Iran rejected.",
            ["point", "proposal"],
        ),
        (
            "How many ships?",
            "As of October 2006, 106 biorefineries were operating throughout the country.",
            ["biorefineries"],
        ),
        (
            "How many hospitals?",
            "Eleven of the remaining 12 studies examined free formula samples in hospitals.",
            ["studies"],  # a part of what it counts
        ),
        # "number of" says what a count followed by no noun counts
        (
            "How many ships?",
            "The average number of ships transiting the Strait was about 130 each day.",
            ["ships"],
        ),
        # nothing says: every word of the sentence may say what it counts
        (
            "How many ships?",
            "Strikes on the port that week killed 40.",
            ["strikes", "port", "week", "killed"],
        ),
        # a count followed by no noun, beside one that names its thing, counts alike
        (
            "How many troops died?",
            "Strikes killed more than 1,700 people and displaced up to 1.2 million.",
            ["people"],
        ),
    ],
)
def test_the_words_that_say_what_a_sentences_counts_count(question, sentence, words):
    assert ExpectedAnswer.of(question).counted_words(sentence) == words


@pytest.mark.parametrize(
    ("question", "sentence", "names"),
    [
        (
            "Who is the current Secretary of the Air Force?",
            "The Chief of Space Operations (CSO) is the highest-ranking uniformed space advisor "
            "and reports to the civilian Secretary of the Air Force.",
            False,
        ),
        (
            "Which general currently heads STARCOM?",
            "The Space Force's three field commands are Combat Forces Command (CFC); Space "
            "Training and Readiness Command (STARCOM); and Space Systems Command (SSC).",
            False,
        ),
        (
            "Which senator praised President Trump's leadership?",
            "One Senator applauded what he described as President Trump's leadership.",
            False,
        ),
        (
            "Which senator praised President Trump's leadership?",
            "It came hours after President Donald Trump wrote on social media.",
            False,  # the question's Trump
        ),
        (
            "Who is the current Chief of Space Operations?",
            "The current CSO, General Chance B. Saltzman, was appointed in November 2022.",
            True,
        ),
        (
            "Who took over as head of the seabed authority?",
            "On January 1, 2025, Leticia Carvalho of Brazil became ISA Secretary-General.",
            True,
        ),
        ("Which senator spoke first?", "Senator Lindsey Graham said so.", True),
        ("Which senator spoke first?", "Sen. Lindsey Graham said so.", True),
        ("Which senator spoke first?", "Scott Bessent said so.", True),
        ("Which senator spoke first?", "Dr. Roe said so.", True),
        (
            "Which senator praised President Trump's leadership?",
            "Senior Iranian and U.S. negotiators met, including Vice President JD Vance.",
            False,  # another office than the one asked
        ),
        ("Which general heads the command?", "Lt. Gen. Jane Smith heads it.", True),
        ("Which general heads the command?", "Adm. Jane Smith heads it.", False),
        ("Who is the current Secretary of the Air Force?", "Secretary Troy Meink spoke.", True),
    ],
)
def test_a_person_asked_for_is_answered_only_by_a_persons_name(question, sentence, names):
    assert person_named(sentence, bare_words(question), asked_title(question)) is names
    assert ExpectedAnswer.of(question).held_by(sentence) is names


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("Which senator praised President Trump's leadership?", {"senator"}),
        ("Who is the current Secretary of the Air Force?", {"secretary"}),
        ("Which ministers signed the accord?", {"minister"}),
        ("Who was the vice president at the time?", {"vice", "president"}),
        ("Who is the current Chief of Space Operations?", set()),  # a role, not an office
        ("Who took over as head of the seabed authority?", set()),
    ],
)
def test_the_office_a_question_asks_a_person_of(question, title):
    assert asked_title(question) == title


@pytest.mark.parametrize(
    ("sentence", "labels", "amounts"),
    [
        ("Section 5708 of the FY2020 NDAA (P.L. 116-92) expresses the sense of Congress.",
         {"5708", "116", "92"}, set()),
        ("GAO February 2006 BREASTFEEDING, GAO-06-282.", {"06", "282"}, {"2006"}),
        ("DOD bought 2,400 F-35 jets; COVID-19 killed 1,000 people in 2020-2021.",
         {"35", "19"}, {"2400", "1000", "2020", "2021"}),
        ("It will build 3-5 submarines; prices rose 30-50 percent.", set(),
         {"3", "5", "30", "50"}),
    ],
)  # fmt: skip
def test_a_number_inside_an_identifier_is_a_label(sentence, labels, amounts):
    found = {figure.value: figure.ordinal for figure in figures(sentence)}
    assert {value for value, label in found.items() if label} == labels
    assert {value for value, label in found.items() if not label} == amounts


def test_a_sentence_without_years_is_about_those_of_the_sentence_before_it():
    expected = ExpectedAnswer.of(
        "How much Treasury debt did overseas investors hold at the end of 2019?"
    )
    sentence = "Of foreign holdings, $3.9 trillion are held by governmental sources."
    assert expected.held_by(sentence)
    assert not expected.held_by(sentence, before="As of December 2025, they held $9.2 trillion.")
    assert expected.held_by(sentence, before="At the end of 2019, they held $6.8 trillion.")
    assert expected.held_by(sentence, before="Foreign investors hold Treasury debt.")


def test_a_spelled_number_in_a_describing_compound_is_no_amount():
    expected = ExpectedAnswer.of("By how much did foreign investment into China fall in 2025?")
    assert not expected.held_by("It seeks to create two-way financing for investors.")
    assert not expected.held_by("The maps are three-dimensional.")
    assert expected.held_by("Investment fell over a five-year span.")
    assert expected.held_by("Investment saw a ten-fold fall.")


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("What is the ISA?", "ISA"),
        ("What are polymetallic nodules?", "polymetallic nodules"),
        ("Who are the Guardians?", "Guardians"),
        ("What is the deficit in 2025?", None),  # a figure
        ("What was Brazil's coffee export volume in 2023?", None),
        ("How many ships does the ISA have?", None),
        ("What is the ISA doing about mining in the Clarion-Clipperton Zone today?", None),
    ],
)
def test_the_term_a_question_asks_to_have_defined(question: str, term: str | None) -> None:
    assert defined_term(question) == term


@pytest.mark.parametrize(
    ("sentence", "defining"),
    [
        ("UNCLOS established the ISA, an autonomous organization that regulates mining.", True),
        (
            "The International Seabed Authority (ISA), established under the 1982 United Nations "
            "Convention on the Law of the Sea (UNCLOS), is an autonomous organization.",
            True,
        ),
        ("Decentralized finance (or defi) refers to the use of cryptocurrency.", True),
        ("Parties to UNCLOS are members of the ISA.", False),
        ("The ISA issued 31 exploration contracts.", False),
        ("After the close of the session of the ISA, the ISA had not adopted rules.", False),
        ("UNCLOS refers to resources recovered from ABNJ as minerals.", False),  # names them
        ("The ISAF is a NATO mission.", False),  # another word
    ],
)
def test_a_sentence_that_says_what_a_term_is(sentence: str, defining: bool) -> None:
    names = {"ISA", "International Seabed Authority", "defi", "UNCLOS"}
    assert defines(sentence, names) is defining
