"""Diagnostics of encoder quality: cross-language retrieval and augmentation invariance.

``XLING_TITLES`` is a fixed set of 20 product titles, each written by the culturecart authors in
EN, KO, JA, DE, FR, ES and ID. ``cross_language_top1`` embeds every title in every language and, for
every ordered language pair, checks that the nearest title in the target language is the
translation of the query (top-1 accuracy, averaged over the 42 pairs).

Example:
    >>> from culturecart.encoders import get_encoder
    >>> round(cross_language_top1(get_encoder("char-hash"))["top1"], 2) < 0.9  # surface forms only
    True
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from culturecart.encoders.base import Encoder, l2_normalise

LANGS = ("en", "ko", "ja", "de", "fr", "es", "id")
XLING_TITLES: tuple[tuple[str, ...], ...] = (
    ("wireless bluetooth headphones", "무선 블루투스 헤드폰", "ワイヤレスブルートゥースヘッドホン",
     "kabellose Bluetooth-Kopfhörer", "casque bluetooth sans fil", "auriculares bluetooth inalámbricos",
     "headphone bluetooth nirkabel"),
    ("red cotton t-shirt for men", "남성용 빨간색 면 티셔츠", "メンズ 赤い綿のTシャツ", "rotes Baumwoll-T-Shirt für Herren",
     "t-shirt en coton rouge pour homme", "camiseta de algodón roja para hombre", "kaos katun merah untuk pria"),
    ("stainless steel water bottle 1 liter", "스테인리스 물병 1리터", "ステンレス製 水筒 1リットル",
     "Edelstahl-Trinkflasche 1 Liter", "gourde en acier inoxydable 1 litre",
     "botella de agua de acero inoxidable 1 litro", "botol air stainless steel 1 liter"),
    ("moisturizing face cream for dry skin", "건성 피부용 보습 크림", "乾燥肌用の保湿フェイスクリーム",
     "feuchtigkeitsspendende Gesichtscreme für trockene Haut", "crème hydratante visage pour peau sèche",
     "crema facial hidratante para piel seca", "krim wajah pelembap untuk kulit kering"),
    ("children's wooden toy train", "어린이 나무 장난감 기차", "子供用の木製おもちゃの汽車", "Holzspielzeugeisenbahn für Kinder",
     "train en bois jouet pour enfants", "tren de juguete de madera para niños", "mainan kereta kayu untuk anak-anak"),
    ("leather wallet for women", "여성용 가죽 지갑", "レディース 革の財布", "Lederbrieftasche für Damen",
     "portefeuille en cuir pour femme", "cartera de cuero para mujer", "dompet kulit untuk wanita"),
    ("running shoes size 42", "러닝화 42 사이즈", "ランニングシューズ サイズ42", "Laufschuhe Größe 42",
     "chaussures de course taille 42", "zapatillas para correr talla 42", "sepatu lari ukuran 42"),
    ("ceramic coffee mug", "도자기 커피 머그컵", "陶器のコーヒーマグ", "Keramik-Kaffeebecher", "tasse à café en céramique",
     "taza de café de cerámica", "mug kopi keramik"),
    ("LED desk lamp with USB charging", "USB 충전식 LED 책상 램프", "USB充電式LEDデスクライト",
     "LED-Schreibtischlampe mit USB-Ladefunktion", "lampe de bureau LED avec recharge USB",
     "lámpara de escritorio LED con carga USB", "lampu meja LED dengan pengisian USB"),
    ("non-slip yoga mat", "미끄럼 방지 요가 매트", "滑り止めヨガマット", "rutschfeste Yogamatte", "tapis de yoga antidérapant",
     "esterilla de yoga antideslizante", "matras yoga anti selip"),
    ("phone case for iPhone 13", "아이폰 13 휴대폰 케이스", "iPhone 13用スマホケース", "Handyhülle für iPhone 13",
     "coque de téléphone pour iPhone 13", "funda de teléfono para iPhone 13", "casing ponsel untuk iPhone 13"),
    ("organic green tea 100 bags", "유기농 녹차 100티백", "オーガニック緑茶 100袋", "Bio-Grüntee 100 Beutel",
     "thé vert bio 100 sachets", "té verde orgánico 100 bolsitas", "teh hijau organik 100 kantong"),
    ("baby diapers size M", "아기 기저귀 M 사이즈", "赤ちゃん用おむつ Mサイズ", "Babywindeln Größe M", "couches pour bébé taille M",
     "pañales para bebé talla M", "popok bayi ukuran M"),
    ("women's summer dress with flowers", "꽃무늬 여성 여름 원피스", "花柄のレディース夏ワンピース",
     "Sommerkleid für Damen mit Blumen", "robe d'été à fleurs pour femme", "vestido de verano de flores para mujer",
     "gaun musim panas wanita motif bunga"),
    ("rechargeable electric toothbrush", "충전식 전동 칫솔", "充電式電動歯ブラシ", "wiederaufladbare elektrische Zahnbürste",
     "brosse à dents électrique rechargeable", "cepillo de dientes eléctrico recargable",
     "sikat gigi elektrik isi ulang"),
    ("non-stick frying pan 28 cm", "논스틱 프라이팬 28cm", "焦げ付かないフライパン 28cm", "antihaftbeschichtete Bratpfanne 28 cm",
     "poêle antiadhésive 28 cm", "sartén antiadherente 28 cm", "wajan anti lengket 28 cm"),
    ("school backpack for kids", "어린이 학교 가방", "子供用通学リュック", "Schulrucksack für Kinder",
     "sac à dos scolaire pour enfants", "mochila escolar para niños", "tas ransel sekolah anak"),
    ("gaming mouse with RGB lights", "RGB 조명 게이밍 마우스", "RGBライト付きゲーミングマウス", "Gaming-Maus mit RGB-Beleuchtung",
     "souris gamer avec lumières RGB", "ratón gaming con luces RGB", "mouse gaming dengan lampu RGB"),
    ("sunscreen SPF 50", "자외선 차단제 SPF 50", "日焼け止め SPF50", "Sonnencreme LSF 50", "crème solaire SPF 50",
     "protector solar FPS 50", "tabir surya SPF 50"),
    ("dog food chicken flavor 2 kg", "닭고기 맛 강아지 사료 2kg", "チキン味のドッグフード 2kg",
     "Hundefutter mit Hühnergeschmack 2 kg", "croquettes pour chien au poulet 2 kg",
     "comida para perros sabor pollo 2 kg", "makanan anjing rasa ayam 2 kg"),
)


def cross_language_top1(encoder: Encoder) -> dict[str, object]:
    """Top-1 cross-language retrieval over ``XLING_TITLES`` (mean over all ordered language pairs)."""
    n_titles, n_langs = len(XLING_TITLES), len(LANGS)
    flat = [XLING_TITLES[t][lang] for lang in range(n_langs) for t in range(n_titles)]
    emb = l2_normalise(encoder.encode(flat)).reshape(n_langs, n_titles, -1)
    per_pair = {}
    for a in range(n_langs):
        for b in range(n_langs):
            if a != b:
                sims = emb[a] @ emb[b].T
                per_pair[f"{LANGS[a]}->{LANGS[b]}"] = float((sims.argmax(1) == np.arange(n_titles)).mean())
    return {"top1": float(np.mean(list(per_pair.values()))), "pairs": per_pair}


def augment(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A re-photographed copy: random crop (up to 20%), horizontal flip, colour jitter."""
    w, h = img.size
    c = rng.uniform(0.05, 0.2)
    dx, dy = rng.uniform(0, c * w), rng.uniform(0, c * h)
    out = img.crop((int(dx), int(dy), int(w - c * w + dx), int(h - c * h + dy))).resize((w, h))
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.2))
    out = ImageEnhance.Color(out).enhance(rng.uniform(0.7, 1.3))
    return ImageEnhance.Contrast(out).enhance(rng.uniform(0.8, 1.2))


def augmentation_top1(encoder: Encoder, paths: Sequence[Path], seed: int = 0) -> float:
    """Share of augmented copies whose nearest original (by cosine) is their own source image."""
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        copies = []
        for i, p in enumerate(paths):
            with Image.open(p) as img:
                aug = augment(img.convert("RGB"), rng)
            buf = io.BytesIO()
            aug.save(buf, format="PNG")
            target = Path(tmp) / f"aug{i}.png"
            target.write_bytes(buf.getvalue())
            copies.append(target)
        originals = l2_normalise(encoder.encode(list(paths)))
        augmented = l2_normalise(encoder.encode(copies))
    return float(((augmented @ originals.T).argmax(1) == np.arange(len(paths))).mean())
