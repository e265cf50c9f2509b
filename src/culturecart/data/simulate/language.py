"""Vocabularies for the simulated marketplace's titles, queries and reviews in seven languages.

Written for this package (EN, KO, JA, DE, FR, ES, ID). Review phrases carry sentiment only; nothing
in a title or a neutral phrase depends on the latent quality, so quality is visible only through the
positive/negative phrases of review texts.
"""

from __future__ import annotations

LANGUAGES = ("en", "ko", "ja", "de", "fr", "es", "id")
CATEGORIES = ("electronics", "fashion", "beauty", "home", "kitchen", "toys", "sports", "stationery")
COLOURS = {
    "red": (200, 30, 40), "blue": (30, 80, 200), "green": (40, 150, 60), "black": (25, 25, 25),
    "white": (235, 235, 235), "yellow": (240, 200, 30), "pink": (240, 130, 180),
    "purple": (120, 50, 160), "orange": (245, 130, 30), "grey": (130, 130, 130),
}

NOUNS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {"electronics": ("headphones", "earbuds"), "fashion": ("t-shirt", "shirt"),
           "beauty": ("face cream", "lotion"), "home": ("desk lamp", "lamp"), "kitchen": ("mug", "cup"),
           "toys": ("toy car", "toy"), "sports": ("football", "ball"), "stationery": ("notebook", "diary")},
    "ko": {"electronics": ("헤드폰", "이어폰"), "fashion": ("티셔츠", "셔츠"), "beauty": ("수분 크림", "로션"),
           "home": ("스탠드 조명", "램프"), "kitchen": ("머그컵", "컵"), "toys": ("장난감 자동차", "장난감"),
           "sports": ("축구공", "공"), "stationery": ("노트", "다이어리")},
    "ja": {"electronics": ("ヘッドホン", "イヤホン"), "fashion": ("Tシャツ", "シャツ"),
           "beauty": ("フェイスクリーム", "ローション"), "home": ("デスクライト", "ランプ"),
           "kitchen": ("マグカップ", "カップ"), "toys": ("おもちゃの車", "おもちゃ"),
           "sports": ("サッカーボール", "ボール"), "stationery": ("ノート", "手帳")},
    "de": {"electronics": ("Kopfhörer", "Ohrhörer"), "fashion": ("T-Shirt", "Hemd"),
           "beauty": ("Gesichtscreme", "Lotion"), "home": ("Schreibtischlampe", "Lampe"),
           "kitchen": ("Tasse", "Becher"), "toys": ("Spielzeugauto", "Spielzeug"), "sports": ("Fußball", "Ball"),
           "stationery": ("Notizbuch", "Tagebuch")},
    "fr": {"electronics": ("casque audio", "écouteurs"), "fashion": ("t-shirt", "chemise"),
           "beauty": ("crème visage", "lotion"), "home": ("lampe de bureau", "lampe"), "kitchen": ("mug", "tasse"),
           "toys": ("petite voiture", "jouet"), "sports": ("ballon de football", "ballon"),
           "stationery": ("carnet", "agenda")},
    "es": {"electronics": ("auriculares", "cascos"), "fashion": ("camiseta", "camisa"),
           "beauty": ("crema facial", "loción"), "home": ("lámpara de escritorio", "lámpara"),
           "kitchen": ("taza", "vaso"), "toys": ("coche de juguete", "juguete"), "sports": ("balón de fútbol", "balón"),
           "stationery": ("cuaderno", "agenda")},
    "id": {"electronics": ("headphone", "earphone"), "fashion": ("kaos", "kemeja"), "beauty": ("krim wajah", "losion"),
           "home": ("lampu meja", "lampu"), "kitchen": ("mug", "cangkir"), "toys": ("mobil mainan", "mainan"),
           "sports": ("bola sepak", "bola"), "stationery": ("buku catatan", "agenda")},
}

COLOUR_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("red", "blue", "green", "black", "white", "yellow", "pink", "purple", "orange", "grey"),
    "ko": ("빨간색", "파란색", "초록색", "검은색", "흰색", "노란색", "분홍색", "보라색", "주황색", "회색"),
    "ja": ("赤", "青", "緑", "黒", "白", "黄色", "ピンク", "紫", "オレンジ", "グレー"),
    "de": ("rot", "blau", "grün", "schwarz", "weiß", "gelb", "rosa", "lila", "orange", "grau"),
    "fr": ("rouge", "bleu", "vert", "noir", "blanc", "jaune", "rose", "violet", "orange", "gris"),
    "es": ("rojo", "azul", "verde", "negro", "blanco", "amarillo", "rosa", "morado", "naranja", "gris"),
    "id": ("merah", "biru", "hijau", "hitam", "putih", "kuning", "merah muda", "ungu", "oranye", "abu-abu"),
}

ADJECTIVES: dict[str, tuple[str, ...]] = {
    "en": ("new", "classic", "compact", "lightweight", "large", "mini"),
    "ko": ("신상", "클래식", "컴팩트", "초경량", "대형", "미니"),
    "ja": ("新品", "クラシック", "コンパクト", "軽量", "大きい", "ミニ"),
    "de": ("neu", "klassisch", "kompakt", "leicht", "groß", "mini"),
    "fr": ("nouveau", "classique", "compact", "léger", "grand", "mini"),
    "es": ("nuevo", "clásico", "compacto", "ligero", "grande", "mini"),
    "id": ("baru", "klasik", "ringkas", "ringan", "besar", "mini"),
}

# Noun before adjectives and colour in these languages ("t-shirt rouge classique").
NOUN_FIRST = frozenset({"fr", "es", "id"})
PROMO_TOKENS = ("READY STOCK", "ORIGINAL", "COD", "PROMO", "HOT SALE", "BEST SELLER", "100% ORI", "[FREE GIFT]")

REVIEW_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "pos": ("excellent quality", "works perfectly", "very happy with it", "well made and durable",
                "exceeded my expectations", "would definitely buy again"),
        "neg": ("poor quality", "broke after a week", "very disappointed", "cheap material",
                "not as described", "would not recommend"),
        "neu": ("arrived on Tuesday", "bought it as a gift", "the box was plain", "I use it every day",
                "ordered two of them", "the colour is as in the photo"),
    },
    "ko": {
        "pos": ("품질이 아주 좋아요", "완벽하게 작동해요", "정말 만족합니다", "튼튼하고 잘 만들어졌어요",
                "기대 이상이에요", "꼭 재구매할게요"),
        "neg": ("품질이 나빠요", "일주일 만에 고장났어요", "매우 실망했어요", "소재가 싸구려예요",
                "설명과 달라요", "추천하지 않아요"),
        "neu": ("화요일에 도착했어요", "선물로 샀어요", "상자는 평범해요", "매일 사용해요", "두 개 주문했어요",
                "색상은 사진과 같아요"),
    },
    "ja": {
        "pos": ("品質がとても良いです", "完璧に動きます", "とても満足しています", "丈夫でよくできています",
                "期待以上でした", "また買いたいです"),
        "neg": ("品質が悪いです", "一週間で壊れました", "とてもがっかりしました", "素材が安っぽいです",
                "説明と違います", "おすすめしません"),
        "neu": ("火曜日に届きました", "プレゼント用に買いました", "箱は普通です", "毎日使っています",
                "二つ注文しました", "色は写真の通りです"),
    },
    "de": {
        "pos": ("ausgezeichnete Qualität", "funktioniert perfekt", "sehr zufrieden damit",
                "gut verarbeitet und langlebig", "hat meine Erwartungen übertroffen", "würde es wieder kaufen"),
        "neg": ("schlechte Qualität", "nach einer Woche kaputt", "sehr enttäuscht", "billiges Material",
                "nicht wie beschrieben", "nicht zu empfehlen"),
        "neu": ("kam am Dienstag an", "als Geschenk gekauft", "die Verpackung war schlicht",
                "ich benutze es jeden Tag", "zwei Stück bestellt", "die Farbe ist wie auf dem Foto"),
    },
    "fr": {
        "pos": ("excellente qualité", "fonctionne parfaitement", "très satisfait", "bien fabriqué et solide",
                "a dépassé mes attentes", "je le rachèterai sans hésiter"),
        "neg": ("mauvaise qualité", "cassé au bout d'une semaine", "très déçu", "matériau bon marché",
                "pas conforme à la description", "je ne le recommande pas"),
        "neu": ("arrivé mardi", "acheté pour offrir", "l'emballage était simple", "je l'utilise tous les jours",
                "j'en ai commandé deux", "la couleur est comme sur la photo"),
    },
    "es": {
        "pos": ("calidad excelente", "funciona perfectamente", "muy contento con la compra", "bien hecho y duradero",
                "superó mis expectativas", "lo volvería a comprar"),
        "neg": ("mala calidad", "se rompió en una semana", "muy decepcionado", "material barato",
                "no es como se describe", "no lo recomiendo"),
        "neu": ("llegó el martes", "lo compré para regalar", "la caja era sencilla", "lo uso todos los días",
                "pedí dos unidades", "el color es como en la foto"),
    },
    "id": {
        "pos": ("kualitas sangat bagus", "berfungsi dengan sempurna", "sangat puas", "kokoh dan awet",
                "melebihi harapan saya", "pasti beli lagi"),
        "neg": ("kualitas buruk", "rusak setelah seminggu", "sangat kecewa", "bahannya murahan",
                "tidak sesuai deskripsi", "tidak saya rekomendasikan"),
        "neu": ("sampai hari Selasa", "dibeli untuk hadiah", "kotaknya biasa saja", "saya pakai setiap hari",
                "pesan dua buah", "warnanya sesuai foto"),
    },
}
SENTENCE_END = {"ja": "。", "ko": ". "}


def sentence_join(language: str, phrases: list[str]) -> str:
    """Join phrases into a review text with the language's sentence punctuation."""
    end = SENTENCE_END.get(language, ". ")
    return end.join(p[:1].upper() + p[1:] for p in phrases) + end.strip()


def title(language: str, brand: str, category: str, colour: int, adjective: int, noun: int, model: str) -> str:
    """A product title in ``language`` (word order follows the language)."""
    n = NOUNS[language][category][noun]
    c = COLOUR_WORDS[language][colour]
    a = ADJECTIVES[language][adjective]
    body = f"{n} {a} {c}" if language in NOUN_FIRST else f"{a} {c} {n}"
    return f"{brand} {body} {model}"


def query(language: str, category: str, colour: int | None) -> str:
    """A search query for a category (optionally with a colour)."""
    n = NOUNS[language][category][0]
    if colour is None:
        return n
    c = COLOUR_WORDS[language][colour]
    return f"{n} {c}" if language in NOUN_FIRST else f"{c} {n}"
