"""Generic world data the generator draws people from: countries, names, streets, phone numbering.

Nothing here is about the company (brands, channels, mappings come from rules/): these are facts about
countries. Phone numbers use fictional or drama ranges where a country publishes one big enough (US/CA
555, UK 07700 9, AU 02 5550 / 03 7010 ...), otherwise plausible shapes; every plan is a *possible* number
for `phonenumbers` (checked in the tests).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PhonePlan:
    """A block of numbers: national significant number (NSN) = `prefix` + `digits` random digits."""

    country: str
    prefix: str
    digits: int
    groups: tuple[int, ...]  # how the NSN is split when typed
    # Templates over the groups ({0}, {1}...), {t} the trunk prefix, {cc} the calling code.
    # The first is the usual national way of writing it; the rest are the variants staff type.
    formats: tuple[str, ...]
    trunk: str = "0"
    registry_code: int = 5  # national-format digits of the dialling code (UK TPS fixed width)
    kind: str = "mobile"

    @property
    def size(self) -> int:
        return 10**self.digits


def _nanp(country: str, area_codes: str, kind: str) -> tuple[PhonePlan, ...]:
    # Mobiles take the first two thirds of the area codes, landlines the rest, so the two never collide.
    codes = area_codes.split()
    cut = len(codes) * 2 // 3
    codes = codes[:cut] if kind == "mobile" else codes[cut:]
    fmts = (
        "({0}) {1}-{2}",
        "{0}-{1}-{2}",
        "{0}.{1}.{2}",
        "{0}{1}{2}",
        "+{cc} {0} {1} {2}",
        "1-{0}-{1}-{2}",
        "+{cc}{0}{1}{2}",
    )
    return tuple(
        PhonePlan(country, ac + "555", 4, (3, 3, 4), fmts, trunk="", registry_code=3, kind=kind) for ac in codes
    )


_US_AREA = (
    "201 202 203 205 206 207 208 210 212 213 214 215 216 217 224 225 234 239 240 248 251 252 253 254 256 "
    "260 262 267 269 270 281 301 302 303 304 305 307 309 310 312 313 314 315 316 317 318 319 320 321 323 "
    "330 334 336 337 339 347 352 360 361 385 386 401 402 404 405 406 407 408 409 410 412 413 414 415 417 "
    "419 423 424 425 430 432 434 435 440 443 469 470 478 479 480 484 501 502 503 504 505 507 508 509 510 "
    "512 513 515 516 517 518 520 530 540 541 551 559 561 562 563 567 570 571 573 574 580 585 586 601 602 "
    "603 605 606 607 608 609 610 612 614 615 616 617 618 619 620 623 626 630 631 636 646 650 651 660 661 "
    "662 678 682 701 702 703 704 706 707 708 712 713 714 715 716 717 718 719 720 724 727 732 734 740 754"
)
_CA_AREA = (
    "204 226 236 249 250 263 289 306 343 354 365 367 368 382 403 416 418 428 431 437 438 450 468 474 506 "
    "514 519 548 579 581 584 587 604 613 639 647 672 683 705 709 742 753 778 780 782 807 819 825 867 873 "
    "879 902 905"
)


def _plans(
    country: str, kind: str, specs: list[tuple[str, int, tuple[int, ...], int]], fmts: tuple[str, ...], trunk: str = "0"
) -> tuple[PhonePlan, ...]:
    return tuple(PhonePlan(country, p, d, g, fmts, trunk, code, kind) for p, d, g, code in specs)


@dataclass(frozen=True)
class Country:
    code: str
    weight: float  # share of the population
    culture: str  # which name and street lists
    utc_offset: float  # standard time, for placing human actions in the local day
    cities: tuple[tuple[str, str, str], ...]  # (city, state/province, postcode prefix)
    postcode: str  # the random rest of a postcode: '#' digit, 'A' letter
    number_first: bool  # "12 Bay St" versus "Hauptstraße 12"
    domains: tuple[str, ...]
    currency: str
    language: str
    date_format: str  # how its tills print dates: DMY or MDY
    store_zones: tuple[str, ...]
    regulation: str  # the privacy law an erasure request cites
    mobile: tuple[PhonePlan, ...]
    landline: tuple[PhonePlan, ...]
    store_label: str = ""  # the code stores use in their ids, when not the ISO code
    mdy_share: float = 0.0  # share of its stores printing MDY when the country is mostly DMY
    extra: dict[str, str] = field(default_factory=dict)


_GB_MOBILE_FMT = ("{t}{0} {1}", "{t}{0}{1}", "+{cc} {0} {1}", "+{cc}{0}{1}", "({t}{0}) {1}", "{t}{0}-{1}")
_GB_LAND_FMT = ("{t}{0} {1} {2}", "{t}{0}{1}{2}", "+{cc} {0} {1} {2}", "({t}{0}) {1} {2}")
_AU_MOBILE_FMT = ("{t}{0} {1} {2}", "{t}{0}{1}{2}", "+{cc} {0} {1} {2}", "+{cc}{0}{1}{2}", "{t}{0}-{1}-{2}")
_AU_LAND_FMT = ("({t}{0}) {1} {2}", "{t}{0} {1} {2}", "+{cc} {0} {1} {2}", "{t}{0}{1}{2}")
_EU_FMT3 = ("{t}{0} {1} {2}", "{t}{0}{1}{2}", "+{cc} {0} {1} {2}", "+{cc}{0}{1}{2}")
_EU_FMT2 = ("{t}{0} {1}", "{t}{0}{1}", "+{cc} {0} {1}", "+{cc}{0}{1}", "{t}{0}/{1}")
_FR_FMT = ("{t}{0} {1} {2} {3} {4}", "{t}{0}{1}{2}{3}{4}", "+{cc} {0} {1} {2} {3} {4}", "{t}{0}.{1}.{2}.{3}.{4}")
_ES_FMT = ("{0} {1} {2} {3}", "{0}{1}{2}{3}", "+{cc} {0} {1} {2} {3}", "+{cc}{0}{1}{2}{3}")
_CH_FMT = ("{t}{0} {1} {2} {3}", "{t}{0}{1}{2}{3}", "+{cc} {0} {1} {2} {3}")

COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in (
        Country(
            "US",
            0.34,
            "en",
            -6,
            (
                ("San Francisco", "CA", "941"),
                ("Los Angeles", "CA", "900"),
                ("New York", "NY", "100"),
                ("Brooklyn", "NY", "112"),
                ("Chicago", "IL", "606"),
                ("Houston", "TX", "770"),
                ("Austin", "TX", "787"),
                ("Seattle", "WA", "981"),
                ("Boston", "MA", "021"),
                ("Denver", "CO", "802"),
                ("Atlanta", "GA", "303"),
                ("Phoenix", "AZ", "850"),
                ("Philadelphia", "PA", "191"),
                ("Portland", "OR", "972"),
                ("Miami", "FL", "331"),
            ),
            "##",
            True,
            ("example.com", "example.net", "example.org"),
            "USD",
            "en-US",
            "MDY",
            ("America/New_York", "America/Chicago", "America/Los_Angeles", "America/Denver"),
            "CCPA",
            _nanp("US", _US_AREA, "mobile"),
            _nanp("US", _US_AREA, "landline"),
        ),
        Country(
            "CA",
            0.10,
            "en",
            -5,
            (
                ("Toronto", "ON", "M5V "),
                ("Ottawa", "ON", "K1P "),
                ("Vancouver", "BC", "V6B "),
                ("Montréal", "QC", "H2X "),
                ("Calgary", "AB", "T2P "),
                ("Halifax", "NS", "B3J "),
                ("Winnipeg", "MB", "R3C "),
            ),
            "#A#",
            True,
            ("example.ca", "example.com"),
            "CAD",
            "en-CA",
            "DMY",
            ("America/Toronto", "America/Vancouver", "America/Edmonton", "America/Halifax"),
            "PIPEDA",
            _nanp("CA", _CA_AREA, "mobile"),
            _nanp("CA", _CA_AREA, "landline"),
            mdy_share=0.5,
        ),
        Country(
            "GB",
            0.25,
            "en",
            0,
            (
                ("London", "", "N1 "),
                ("London", "", "SE1 "),
                ("Leeds", "", "LS1 "),
                ("Bristol", "", "BS1 "),
                ("Manchester", "", "M1 "),
                ("Birmingham", "", "B1 "),
                ("Edinburgh", "", "EH1 "),
                ("Glasgow", "", "G1 "),
                ("Cardiff", "", "CF10 "),
                ("Sheffield", "", "S1 "),
                ("Newcastle upon Tyne", "", "NE1 "),
                ("Nottingham", "", "NG1 "),
                ("Brighton", "", "BN1 "),
            ),
            "#AA",
            True,
            ("example.co.uk", "example.com", "example.org.uk"),
            "GBP",
            "en-GB",
            "DMY",
            ("Europe/London",),
            "UK GDPR",
            _plans("GB", "mobile", [(p, 5, (4, 6), 5) for p in ("77009", "77008", "77007", "77006")], _GB_MOBILE_FMT),
            _plans(
                "GB",
                "landline",
                [("207946", 4, (2, 4, 4), 4)]
                + [
                    (code + "496", 4, (3, 3, 4), 4)
                    for code in ("113", "114", "115", "116", "117", "118", "121", "131", "141", "151", "161")
                ]
                + [("191498", 4, (3, 3, 4), 4)],
                _GB_LAND_FMT,
            ),
            store_label="UK",
        ),
        Country(
            "AU",
            0.12,
            "en",
            10,
            (
                ("Sydney", "NSW", "20"),
                ("Melbourne", "VIC", "30"),
                ("Brisbane", "QLD", "40"),
                ("Perth", "WA", "60"),
                ("Adelaide", "SA", "50"),
                ("Canberra", "ACT", "26"),
                ("Hobart", "TAS", "70"),
            ),
            "##",
            True,
            ("example.com.au", "example.com", "example.net.au"),
            "AUD",
            "en-AU",
            "DMY",
            ("Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane", "Australia/Perth"),
            "Privacy Act",
            _plans("AU", "mobile", [("491", 6, (3, 3, 3), 4)], _AU_MOBILE_FMT),
            _plans(
                "AU",
                "landline",
                [
                    ("25550", 4, (1, 4, 4), 2),
                    ("37010", 4, (1, 4, 4), 2),
                    ("75550", 4, (1, 4, 4), 2),
                    ("87010", 4, (1, 4, 4), 2),
                ],
                _AU_LAND_FMT,
            ),
        ),
        Country(
            "DE",
            0.045,
            "de",
            1,
            (
                ("Berlin", "BE", "10"),
                ("Hamburg", "HH", "20"),
                ("München", "BY", "80"),
                ("Köln", "NW", "50"),
                ("Frankfurt am Main", "HE", "60"),
                ("Stuttgart", "BW", "70"),
                ("Düsseldorf", "NW", "40"),
                ("Leipzig", "SN", "04"),
            ),
            "###",
            False,
            ("example.de",),
            "EUR",
            "de-DE",
            "DMY",
            ("Europe/Berlin",),
            "GDPR",
            _plans("DE", "mobile", [(p, 8, (3, 8), 4) for p in ("151", "152", "157")], _EU_FMT2),
            _plans("DE", "landline", [(p, 8, (2, 8), 3) for p in ("30", "40", "89")], _EU_FMT2),
        ),
        Country(
            "FR",
            0.0375,
            "fr",
            1,
            (
                ("Paris", "", "750"),
                ("Lyon", "", "690"),
                ("Marseille", "", "130"),
                ("Toulouse", "", "310"),
                ("Bordeaux", "", "330"),
                ("Lille", "", "590"),
                ("Nantes", "", "440"),
            ),
            "##",
            True,
            ("example.fr",),
            "EUR",
            "fr-FR",
            "DMY",
            ("Europe/Paris",),
            "GDPR",
            _plans("FR", "mobile", [("6", 8, (1, 2, 2, 2, 2), 2)], _FR_FMT),
            _plans("FR", "landline", [("1", 8, (1, 2, 2, 2, 2), 2), ("4", 8, (1, 2, 2, 2, 2), 2)], _FR_FMT),
        ),
        Country(
            "IE",
            0.0225,
            "en",
            0,
            (
                ("Dublin", "", "D02 "),
                ("Dublin", "", "D04 "),
                ("Cork", "", "T12 "),
                ("Galway", "", "H91 "),
                ("Limerick", "", "V94 "),
            ),
            "A#A#",
            True,
            ("example.ie", "example.com"),
            "EUR",
            "en-IE",
            "DMY",
            ("Europe/Dublin",),
            "GDPR",
            _plans("IE", "mobile", [(p, 7, (2, 3, 4), 3) for p in ("87", "85", "86")], _EU_FMT3),
            _plans("IE", "landline", [("1", 7, (1, 3, 4), 2)], _EU_FMT3),
        ),
        Country(
            "NL",
            0.018,
            "nl",
            1,
            (
                ("Amsterdam", "", "1012 "),
                ("Rotterdam", "", "3011 "),
                ("Utrecht", "", "3511 "),
                ("Den Haag", "", "2511 "),
                ("Eindhoven", "", "5611 "),
            ),
            "AA",
            False,
            ("example.nl",),
            "EUR",
            "nl-NL",
            "DMY",
            ("Europe/Amsterdam",),
            "GDPR",
            _plans("NL", "mobile", [("6", 8, (1, 8), 2)], _EU_FMT2),
            _plans("NL", "landline", [("20", 7, (2, 3, 4), 3)], _EU_FMT3),
        ),
        Country(
            "ES",
            0.015,
            "es",
            1,
            (("Madrid", "", "280"), ("Barcelona", "", "080"), ("Valencia", "", "460"), ("Sevilla", "", "410")),
            "##",
            False,
            ("example.es",),
            "EUR",
            "es-ES",
            "DMY",
            ("Europe/Madrid",),
            "GDPR",
            _plans("ES", "mobile", [("6", 8, (3, 2, 2, 2), 3)], _ES_FMT, trunk=""),
            _plans("ES", "landline", [("91", 7, (3, 2, 2, 2), 3)], _ES_FMT, trunk=""),
        ),
        Country(
            "IT",
            0.012,
            "it",
            1,
            (("Roma", "", "001"), ("Milano", "", "201"), ("Napoli", "", "801"), ("Torino", "", "101")),
            "##",
            False,
            ("example.it",),
            "EUR",
            "it-IT",
            "DMY",
            ("Europe/Rome",),
            "GDPR",
            _plans("IT", "mobile", [("347", 7, (3, 3, 4), 3), ("333", 7, (3, 3, 4), 3)], _EU_FMT3, trunk=""),
            _plans("IT", "landline", [("06", 8, (2, 4, 4), 2)], _EU_FMT3, trunk=""),
        ),
        Country(
            "NZ",
            0.016,
            "en",
            12,
            (("Auckland", "", "10"), ("Wellington", "", "60"), ("Christchurch", "", "80")),
            "##",
            True,
            ("example.co.nz", "example.com"),
            "NZD",
            "en-NZ",
            "DMY",
            ("Pacific/Auckland",),
            "Privacy Act 2020",
            _plans("NZ", "mobile", [("21", 7, (2, 3, 4), 3)], _EU_FMT3),
            _plans("NZ", "landline", [("9", 7, (1, 3, 4), 2)], _EU_FMT3),
        ),
        Country(
            "CH",
            0.014,
            "de",
            1,
            (("Zürich", "ZH", "80"), ("Genève", "GE", "12"), ("Basel", "BS", "40")),
            "##",
            False,
            ("example.ch",),
            "CHF",
            "de-CH",
            "DMY",
            ("Europe/Zurich",),
            "FADP",
            _plans("CH", "mobile", [("79", 7, (2, 3, 2, 2), 3)], _CH_FMT),
            _plans("CH", "landline", [("44", 7, (2, 3, 2, 2), 3)], _CH_FMT),
        ),
        Country(
            "NO",
            0.01,
            "no",
            1,
            (("Oslo", "", "0"), ("Bergen", "", "50")),
            "##",
            False,
            ("example.no",),
            "NOK",
            "nb-NO",
            "DMY",
            ("Europe/Oslo",),
            "GDPR",
            _plans(
                "NO", "mobile", [("4", 7, (3, 2, 3), 3)], ("{0} {1} {2}", "{0}{1}{2}", "+{cc} {0} {1} {2}"), trunk=""
            ),
            _plans(
                "NO", "landline", [("22", 6, (2, 2, 2, 2), 2)], ("{0} {1} {2} {3}", "+{cc} {0} {1} {2} {3}"), trunk=""
            ),
        ),
    )
}

# Name lists per culture. Accented names are Latin-1 (so a Windows-1252 export can carry them).
FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "en": tuple(
        "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
        "Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret "
        "Mark Sandra Priya Arjun Ngozi Chidi Wei Mei Ana Luis Aisha Mohammed Olivia Noah Emma Liam Amelia "
        "Oliver Isla Harry Chloe Jack Sophie George Grace Ethan Zoë Renée Siobhán Seán Aoife Ciarán Niamh Tom "
        "Bea Ella Finn Ruby Leo Maya Kai Lena Nora Ned Ivy Rosa Omar Hana Yusuf Kemi Tariq Lucy Alfie Freya".split()
    ),
    "de": tuple(
        "Lukas Leon Finn Jonas Paul Felix Maximilian Elias Emma Mia Hannah Sophie Lena Marie Anna Lea Jürgen "
        "Jörg Günter Käthe Björn Sören Ute Heike Stefan Andreas Sabine Claudia Tobias Julia Katrin Uwe".split()
    ),
    "fr": tuple(
        "Jean Marie Pierre Camille Louis Léa Hugo Chloé Lucas Manon Jules Inès Gabriel Zoé Raphaël Françoise "
        "Hélène Élodie Benoît Jérôme Anaïs Maël Nathalie Sébastien Aurélie Thomas Julie Nicolas".split()
    ),
    "es": tuple(
        "Lucía Sofía Martina María Hugo Mateo Martín Pablo Álvaro Alejandro Javier Carmen Isabel José Ana "
        "Daniel Nuria Íñigo Raúl Elena Sergio Laura".split()
    ),
    "it": tuple(
        "Giulia Sofia Aurora Alice Leonardo Francesco Alessandro Lorenzo Mattia Andrea Giuseppe Marco Chiara "
        "Niccolò Elena Federica Luca Paola".split()
    ),
    "nl": tuple(
        "Daan Sem Lucas Levi Finn Emma Julia Mila Tess Sophie Bram Jeroen Femke Anouk Sanne Pieter Joost".split()
    ),
    "no": tuple(
        "Jakob Emil Noah Oliver Filip William Lucas Nora Emma Ella Maja Olivia Ingrid Sofie Ole Lars Kari "
        "Åse Bjørn Øystein Solveig".split()
    ),
}
LAST_NAMES: dict[str, tuple[str, ...]] = {
    "en": tuple(
        "Smith Johnson Williams Brown Jones Garcia Miller Davis Wilson Taylor Anderson Thomas Jackson White "
        "Harris Martin Thompson Moore Clark Lewis Walker Hall Allen Young King Wright Scott Green Baker Adams "
        "Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Parker Collins Edwards Stewart Morris "
        "Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Bell Kelly Howard Ward Cox Hale Okafor Shah Patel "
        "Khan Chen Nguyen Silva Kowalski O'Brien O'Neill McDonald MacLeod Singh Ahmed Byrne Ryan Walsh "
        "O'Sullivan Murray Quinn Fitzgerald Hughes Price Lloyd Jenkins Owen".split()
    ),
    "de": tuple(
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter "
        "Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Weiß Köhler".split()
    ),
    "fr": tuple(
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefèvre Michel "
        "David Bertrand Roux Vincent Fournier Morel Girard André Lefebvre Mercier Dupont Lambert Bonnet".split()
    ),
    "es": tuple(
        "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz Hernández "
        "Díaz Moreno Muñoz Álvarez Romero Alonso Navarro".split()
    ),
    "it": tuple(
        "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti Costa "
        "Giordano Mancini Rizzo Lombardi Moretti".split()
    ),
    "nl": (
        "de Jong",
        "Jansen",
        "de Vries",
        "van den Berg",
        "van Dijk",
        "Bakker",
        "Janssen",
        "Visser",
        "Smit",
        "Meijer",
        "de Boer",
        "Mulder",
        "de Groot",
        "Bos",
        "Vos",
        "Peters",
        "Hendriks",
        "van Leeuwen",
        "Dekker",
    ),
    "no": tuple(
        "Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Kristiansen Jensen Karlsen Johnsen "
        "Pettersen Eriksen Berg Haugen Hagen Bakken Strand Sæther Løken".split()
    ),
}
STREETS: dict[str, tuple[str, ...]] = {
    "en": (
        "High St",
        "Mill Lane",
        "Park Row",
        "Bay St",
        "Elm Road",
        "Church Road",
        "Station Road",
        "Main St",
        "Oak Avenue",
        "Maple Drive",
        "King St",
        "Queen St",
        "George St",
        "Victoria Road",
        "Harbour View",
        "Cedar Court",
        "Willow Way",
        "Riverside Drive",
    ),
    "de": (
        "Hauptstraße",
        "Bahnhofstraße",
        "Gartenweg",
        "Schillerstraße",
        "Goethestraße",
        "Lindenallee",
        "Bergstraße",
        "Kirchplatz",
    ),
    "fr": (
        "rue de la Paix",
        "avenue Victor Hugo",
        "rue du Moulin",
        "boulevard Voltaire",
        "rue des Lilas",
        "place de l'Église",
        "rue Pasteur",
    ),
    "es": ("Calle Mayor", "Calle de Alcalá", "Avenida de la Constitución", "Calle del Sol", "Paseo del Prado"),
    "it": ("Via Roma", "Via Garibaldi", "Corso Italia", "Via Dante", "Piazza del Popolo"),
    "nl": ("Kerkstraat", "Dorpsstraat", "Molenweg", "Stationsweg", "Prinsengracht"),
    "no": ("Storgata", "Kirkeveien", "Skolegata", "Bakkeveien"),
}

_ASCII = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "'": "", " ": "", "-": ""})


def ascii_name(name: str) -> str:
    """A name as it appears in an email address: no accents, spaces or apostrophes."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_ASCII))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def country_codes() -> list[str]:
    return list(COUNTRIES)
