"""Generate a large catalogue (default 5,000 procedures) from the real one.

The agencies are copied as they are. Each generated procedure starts from one of the
real procedure files (so its agency, unit, form, fee and requirements stay valid) and
gets a new code, name and summary built from Spanish vocabulary with accents
("Licencia", "Autorización", "Certificado", "Constancia" + varied objects), with an
English translation, so that ``search_text`` has the size of a real entry.
"""

from __future__ import annotations

import itertools
import random
import shutil
from pathlib import Path
from typing import Any

import yaml

VERBS = [
    ("Solicitar", "Request"),
    ("Obtener", "Get"),
    ("Tramitar", "Apply for"),
    ("Renovar", "Renew"),
    ("Pedir", "Ask for"),
    ("Inscribir", "Register"),
    ("Presentar", "File"),
    ("Modificar", "Amend"),
]
DOCUMENTS = [
    ("la licencia", "the licence"),
    ("la autorización", "the authorisation"),
    ("el certificado", "the certificate"),
    ("la constancia", "the certificate of record"),
    ("el permiso", "the permit"),
    ("la inscripción", "the registration"),
    ("la declaración jurada", "the sworn statement"),
    ("el duplicado", "the duplicate"),
    ("la copia certificada", "the certified copy"),
    ("la conformidad", "the approval"),
]
OBJECTS = [
    ("de funcionamiento para bodega", "to run a grocery shop"),
    ("domiciliario", "of address"),
    ("de posesión", "of possession"),
    ("de edificación en modalidad B", "for building works, type B"),
    ("de anuncio publicitario luminoso", "for an illuminated advertising sign"),
    ("de numeración municipal", "of street number"),
    ("de ocupación de la vía pública", "to occupy the public road"),
    ("de espectáculo público no deportivo", "for a public non-sports show"),
    ("sanitaria de piscina", "for a swimming pool's health conditions"),
    ("de habilitación urbana", "for urban development"),
    ("de instalación de antena de telecomunicaciones", "to install a telecom antenna"),
    ("de acceso a la información pública", "of access to public information"),
    ("de poda de árboles en la vía pública", "to prune trees on the street"),
    ("de evento en parque zonal", "for an event in a park"),
    ("de puesto en mercado de abastos", "for a market stall"),
    ("de transporte de carga pesada", "for heavy goods transport"),
    ("de servicio de radiodifusión sonora", "for a radio broadcasting service"),
    ("de matrimonio civil comunitario", "for a community civil wedding"),
    ("de reclamo por facturación telefónica", "of a phone billing complaint"),
    ("de vehículo menor (mototaxi)", "for a small vehicle (mototaxi)"),
    ("de cese de actividades comerciales", "of closing a business"),
    ("de conexión de agua y desagüe", "for water and sewage connection"),
    ("de defensa civil para local comercial", "of civil defence for a shop"),
    ("de compatibilidad de uso", "of land-use compatibility"),
    ("de demolición de edificación", "to demolish a building"),
]
QUALIFIERS = [
    ("", ""),
    ("para persona jurídica", "for a company"),
    ("en zona de tratamiento especial", "in a special treatment zone"),
    ("con inspección técnica previa", "with a prior technical inspection"),
    ("por pérdida o deterioro", "for loss or damage"),
    ("para vecinos del distrito", "for residents of the district"),
    ("de riesgo medio", "of medium risk"),
    ("con trámite simplificado", "with a simplified procedure"),
    ("en Lima Metropolitana", "in Metropolitan Lima"),
    ("para adultos mayores", "for older people"),
]
REASONS = [
    (
        "Lo necesitas para trabajar con tranquilidad y evitar multas.",
        "You need it to work safely and avoid fines.",
    ),
    (
        "Sirve para trámites en bancos, notarías y otras entidades.",
        "It is used for banks, notaries and other bodies.",
    ),
    (
        "La municipalidad revisa tu pedido y puede hacer una inspección.",
        "The municipality checks your request and may inspect.",
    ),
    ("Puedes seguir el estado de tu expediente en línea.", "You can follow your case online."),
    (
        "Si falta algo, te avisan para que lo corrijas en dos días hábiles.",
        "If something is missing, you have two business days to fix it.",
    ),
]


def _combinations(count: int, seed: int) -> list[tuple[int, int, int, int]]:
    combos = list(
        itertools.product(
            range(len(VERBS)), range(len(DOCUMENTS)), range(len(OBJECTS)), range(len(QUALIFIERS))
        )
    )
    random.Random(seed).shuffle(combos)
    if count > len(combos):
        raise ValueError(f"at most {len(combos)} distinct procedures")
    return combos[:count]


def _with_article(name: str) -> str:
    first = name.split()[0] if name else ""
    article = "la" if first.endswith(("dad", "ción", "ría")) else "el"
    return f"{article} {name}"


def _code(base: str, index: int) -> str:
    return f"{base[:24].rstrip('-')}-{index:05d}"


def generate(source: Path, target: Path, count: int, seed: int = 5000) -> int:
    """Write agencies and ``count`` procedures under ``target``; returns files written."""
    (target / "agencies").mkdir(parents=True, exist_ok=True)
    for agency_file in sorted((source / "agencies").glob("*.yaml")):
        shutil.copy(agency_file, target / "agencies" / agency_file.name)
    bases: list[dict[str, Any]] = [
        yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        for p in sorted((source / "procedures").rglob("*.yaml"))
    ]
    agency_names = {
        a["code"]: a["name"]
        for a in (
            yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            for p in (source / "agencies").glob("*.yaml")
        )
    }
    written = 0
    for index, (v, d, o, q) in enumerate(_combinations(count, seed)):
        base = bases[index % len(bases)]
        verb_es, verb_en = VERBS[v]
        doc_es, doc_en = DOCUMENTS[d]
        obj_es, obj_en = OBJECTS[o]
        qual_es, qual_en = QUALIFIERS[q]
        reason_es, reason_en = REASONS[index % len(REASONS)]
        name_es = " ".join(x for x in (verb_es, doc_es, obj_es, qual_es) if x)
        name_en = " ".join(x for x in (verb_en, doc_en, obj_en, qual_en) if x)
        agency = base["agency"]
        spec = dict(base)
        spec["code"] = _code(base["code"], index)
        # Evidence obtained from another agency is granted per procedure code in the exchange
        # registry: a generated copy asks the citizen for the document instead.
        spec["requirements"] = [
            {k: v for k, v in r.items() if k != "obtained_from"}
            for r in base.get("requirements", [])
        ]
        spec["name"] = {"es": name_es, "en": name_en}
        spec["summary"] = {
            "es": (
                f"Pide {doc_es} {obj_es} ante {_with_article(agency_names.get(agency, agency))}. "
                f"{reason_es} Te responden en {base['term_days']} días hábiles como máximo."
            ),
            "en": (
                f"Ask for {doc_en} {obj_en}. {reason_en} "
                f"You get an answer within {base['term_days']} business days at most."
            ),
        }
        folder = target / "procedures" / agency
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{spec['code']}.yaml").write_text(
            yaml.dump(spec, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
        written += 1
    return written
