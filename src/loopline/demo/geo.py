"""Reference data about customers' whereabouts: names, countries and cities."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NamePool:
    """First and last names typical of one nationality."""

    female: tuple[str, ...]
    male: tuple[str, ...]
    last: tuple[str, ...]


NAMES: dict[str, NamePool] = {
    "german": NamePool(
        ("Anna", "Lena", "Sophie", "Marie", "Laura", "Julia", "Hannah", "Lea", "Katharina", "Johanna",
         "Clara", "Charlotte"),
        ("Lukas", "Jonas", "Leon", "Felix", "Maximilian", "Paul", "Tim", "Jan", "Niklas", "Tobias",
         "Florian", "Moritz"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
         "Hoffmann", "Koch", "Richter", "Wolf", "Schäfer", "Neumann", "Krüger"),
    ),
    "french": NamePool(
        ("Camille", "Léa", "Manon", "Chloé", "Inès", "Julie", "Emma", "Sarah", "Louise", "Pauline"),
        ("Lucas", "Hugo", "Louis", "Théo", "Nathan", "Antoine", "Julien", "Maxime", "Thomas", "Arthur"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
         "Moreau", "Lefèvre", "Girard"),
    ),
    "italian": NamePool(
        ("Giulia", "Chiara", "Francesca", "Sara", "Martina", "Alessia", "Elena", "Valentina",
         "Federica", "Giorgia"),
        ("Marco", "Luca", "Alessandro", "Matteo", "Lorenzo", "Andrea", "Davide", "Francesco", "Simone",
         "Riccardo"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
         "Greco", "Bruno", "Gallo"),
    ),
    "spanish": NamePool(
        ("María", "Lucía", "Paula", "Carmen", "Laura", "Marta", "Alba", "Elena", "Sofía", "Claudia"),
        ("Javier", "Pablo", "Alejandro", "Daniel", "Sergio", "Carlos", "Diego", "Álvaro", "Adrián",
         "Miguel"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
         "Gómez", "Martín", "Jiménez", "Ruiz"),
    ),
    "british": NamePool(
        ("Olivia", "Amelia", "Isla", "Emily", "Grace", "Jessica", "Charlotte", "Eleanor", "Holly",
         "Poppy"),
        ("Oliver", "Harry", "George", "Jack", "Thomas", "James", "William", "Charlie", "Alfie", "Samuel"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Evans",
         "Walker", "Wright", "Thompson"),
    ),
    "polish": NamePool(
        ("Zuzanna", "Julia", "Maja", "Aleksandra", "Natalia", "Wiktoria", "Agnieszka", "Katarzyna",
         "Magdalena", "Monika"),
        ("Jakub", "Kacper", "Piotr", "Mateusz", "Michał", "Tomasz", "Krzysztof", "Paweł", "Bartosz",
         "Łukasz"),
        # Masculine forms; feminine_surname() derives -ska/-cka for women.
        ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski",
         "Zieliński", "Szymański", "Woźniak", "Dąbrowski", "Mazur"),
    ),
    "turkish": NamePool(
        ("Elif", "Zeynep", "Ayşe", "Fatma", "Merve", "Büşra", "Ece", "Selin", "Derya", "Esra"),
        ("Mehmet", "Mustafa", "Ahmet", "Emre", "Can", "Burak", "Murat", "Yusuf", "Kerem", "Oğuz"),
        ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın",
         "Özdemir", "Arslan", "Doğan"),
    ),
    "dutch": NamePool(
        ("Sanne", "Lotte", "Fleur", "Anouk", "Eva", "Femke", "Iris", "Noor", "Lieke", "Roos"),
        ("Daan", "Sem", "Bram", "Thijs", "Ruben", "Lars", "Jesse", "Stijn", "Joris", "Niels"),
        ("de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit",
         "Meijer", "de Boer", "Mulder", "Bos"),
    ),
}


def feminine_surname(nationality: str, surname: str) -> str:
    """Return the form of a surname a woman of that nationality would carry."""
    if nationality == "polish" and surname.endswith(("ski", "cki", "dzki")):
        return surname[:-1] + "a"
    return surname


@dataclass(frozen=True, slots=True)
class Country:
    """A delivery country: locale, VAT, time zone rule, carriers and phone format."""

    code: str
    name: str
    locale: str
    vat: float
    timezone: str
    utc_offset_minutes: int
    # Every country served observes the EU/UK summer-time rule except Turkey;
    # encoding it here keeps output identical on hosts without tz data.
    eu_summer_time: bool
    carriers: tuple[str, ...]
    # E.164 prefixes of mobile ranges and how many digits follow each.
    mobile_prefixes: tuple[str, ...]
    mobile_digits: int
    nationalities: tuple[tuple[str, float], ...]
    weight: float


COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in (
        Country("DE", "Germany", "de-DE", 0.19, "Europe/Berlin", 60, True,
                ("Telekom.de", "Vodafone.de", "o2 - de"), ("+49151", "+49152", "+49157", "+49159"), 8,
                (("german", 0.82), ("turkish", 0.09), ("polish", 0.05), ("italian", 0.04)), 35.0),
        Country("AT", "Austria", "de-AT", 0.20, "Europe/Vienna", 60, True,
                ("A1", "Magenta", "3 AT"), ("+43664", "+43676", "+43699", "+43650"), 7,
                (("german", 0.9), ("turkish", 0.05), ("polish", 0.05)), 5.0),
        Country("CH", "Switzerland", "de-CH", 0.081, "Europe/Zurich", 60, True,
                ("Swisscom", "Sunrise", "Salt"), ("+4176", "+4177", "+4178", "+4179"), 7,
                (("german", 0.6), ("french", 0.25), ("italian", 0.15)), 3.0),
        Country("FR", "France", "fr-FR", 0.20, "Europe/Paris", 60, True,
                ("Orange F", "SFR", "Bouygues Telecom", "Free"),
                ("+3361", "+3362", "+3366", "+3367", "+3376", "+3378"), 7,
                (("french", 0.9), ("spanish", 0.05), ("italian", 0.05)), 12.0),
        Country("IT", "Italy", "it-IT", 0.22, "Europe/Rome", 60, True,
                ("TIM", "Vodafone IT", "WINDTRE", "iliad"), ("+39320", "+39333", "+39347", "+39349"), 7,
                (("italian", 0.95), ("spanish", 0.05)), 10.0),
        Country("ES", "Spain", "es-ES", 0.21, "Europe/Madrid", 60, True,
                ("Movistar", "Vodafone ES", "Orange", "Yoigo"), ("+346",), 8,
                (("spanish", 0.93), ("french", 0.04), ("british", 0.03)), 9.0),
        Country("GB", "United Kingdom", "en-GB", 0.20, "Europe/London", 0, True,
                ("EE", "Vodafone UK", "O2 - UK", "Three"), ("+4474", "+4475", "+4477", "+4478"), 8,
                (("british", 0.88), ("polish", 0.06), ("italian", 0.03), ("french", 0.03)), 9.0),
        Country("PL", "Poland", "pl-PL", 0.23, "Europe/Warsaw", 60, True,
                ("Plus", "Orange PL", "Play", "T-Mobile.pl"),
                ("+4850", "+4851", "+4860", "+4869", "+4879"), 7,
                (("polish", 1.0),), 7.0),
        Country("NL", "Netherlands", "nl-NL", 0.21, "Europe/Amsterdam", 60, True,
                ("KPN", "Vodafone NL", "Odido"), ("+3161", "+3162", "+3164", "+3165"), 7,
                (("dutch", 0.85), ("turkish", 0.08), ("polish", 0.04), ("german", 0.03)), 6.0),
        Country("TR", "Turkey", "tr-TR", 0.20, "Europe/Istanbul", 180, False,
                ("Turkcell", "Vodafone TR", "Türk Telekom"), ("+90530", "+90532", "+90542", "+90555"), 7,
                (("turkish", 1.0),), 4.0),
    )
}


@dataclass(frozen=True, slots=True)
class City:
    """A customer's home city with postal code and coordinates."""

    name: str
    country: str
    region: str
    postal_code: str
    latitude: float
    longitude: float
    weight: float


CITIES: tuple[City, ...] = (
    City("Berlin", "DE", "Berlin", "10115", 52.5200, 13.4050, 9),
    City("Hamburg", "DE", "Hamburg", "20095", 53.5511, 9.9937, 5),
    City("Munich", "DE", "Bavaria", "80331", 48.1351, 11.5820, 5),
    City("Cologne", "DE", "North Rhine-Westphalia", "50667", 50.9375, 6.9603, 4),
    City("Frankfurt am Main", "DE", "Hesse", "60311", 50.1109, 8.6821, 3),
    City("Stuttgart", "DE", "Baden-Württemberg", "70173", 48.7758, 9.1829, 3),
    City("Düsseldorf", "DE", "North Rhine-Westphalia", "40213", 51.2277, 6.7735, 2),
    City("Leipzig", "DE", "Saxony", "04109", 51.3397, 12.3731, 2),
    City("Vienna", "AT", "Vienna", "1010", 48.2082, 16.3738, 4),
    City("Graz", "AT", "Styria", "8010", 47.0707, 15.4395, 1),
    City("Zurich", "CH", "Zurich", "8001", 47.3769, 8.5417, 2),
    City("Geneva", "CH", "Geneva", "1201", 46.2044, 6.1432, 1),
    City("Paris", "FR", "Île-de-France", "75002", 48.8566, 2.3522, 6),
    City("Lyon", "FR", "Auvergne-Rhône-Alpes", "69002", 45.7640, 4.8357, 2),
    City("Marseille", "FR", "Provence-Alpes-Côte d'Azur", "13001", 43.2965, 5.3698, 2),
    City("Toulouse", "FR", "Occitanie", "31000", 43.6047, 1.4442, 1),
    City("Bordeaux", "FR", "Nouvelle-Aquitaine", "33000", 44.8378, -0.5792, 1),
    City("Milan", "IT", "Lombardy", "20121", 45.4642, 9.1900, 4),
    City("Rome", "IT", "Lazio", "00184", 41.9028, 12.4964, 3),
    City("Turin", "IT", "Piedmont", "10121", 45.0703, 7.6869, 1),
    City("Naples", "IT", "Campania", "80133", 40.8518, 14.2681, 1),
    City("Bologna", "IT", "Emilia-Romagna", "40121", 44.4949, 11.3426, 1),
    City("Madrid", "ES", "Community of Madrid", "28013", 40.4168, -3.7038, 4),
    City("Barcelona", "ES", "Catalonia", "08002", 41.3874, 2.1686, 3),
    City("Valencia", "ES", "Valencian Community", "46002", 39.4699, -0.3763, 1),
    City("Seville", "ES", "Andalusia", "41004", 37.3891, -5.9845, 1),
    City("Bilbao", "ES", "Basque Country", "48001", 43.2630, -2.9350, 1),
    City("London", "GB", "England", "EC1A 1BB", 51.5072, -0.1276, 6),
    City("Manchester", "GB", "England", "M1 1AE", 53.4808, -2.2426, 2),
    City("Birmingham", "GB", "England", "B1 1BB", 52.4862, -1.8904, 1),
    City("Edinburgh", "GB", "Scotland", "EH1 1YZ", 55.9533, -3.1883, 1),
    City("Bristol", "GB", "England", "BS1 4DJ", 51.4545, -2.5879, 1),
    City("Warsaw", "PL", "Masovian", "00-001", 52.2297, 21.0122, 4),
    City("Kraków", "PL", "Lesser Poland", "31-001", 50.0647, 19.9450, 2),
    City("Wrocław", "PL", "Lower Silesian", "50-001", 51.1079, 17.0385, 1),
    City("Gdańsk", "PL", "Pomeranian", "80-001", 54.3520, 18.6466, 1),
    City("Poznań", "PL", "Greater Poland", "61-001", 52.4064, 16.9252, 1),
    City("Amsterdam", "NL", "North Holland", "1012 JS", 52.3676, 4.9041, 3),
    City("Rotterdam", "NL", "South Holland", "3011 AD", 51.9244, 4.4777, 2),
    City("Utrecht", "NL", "Utrecht", "3511 LX", 52.0907, 5.1214, 1),
    City("Istanbul", "TR", "Istanbul", "34430", 41.0082, 28.9784, 4),
    City("Ankara", "TR", "Ankara", "06420", 39.9334, 32.8597, 1),
    City("Izmir", "TR", "Izmir", "35210", 38.4237, 27.1428, 1),
)
