"""Writes a test corpus with a unique marker in every attribute of PS3.15 table E.1-1.

Usage: make-marked-corpus.py TABLE_TSV SOURCE_DCM OUT_DIR

Every non-private row of the table becomes an element with its dictionary VR
and the raw value 'MRK<group>_<element>' (padded to 16 bytes), at the top
level and inside sequence items three levels deep. Sequences get an item
that carries a marked Person Name (0040,A123). Private blocks carry markers
under the creator 'MRK CREATOR'; the block of 'SAFE CREATOR' carries no
marker, for the Retain Safe Private test. Values are written raw, so a marker
need not be valid for its VR. OUT_DIR/hold-back gets one file per SOP class
for the hold-back rules: images without Burned In Annotation and encapsulated
documents with Burned In Annotation NO. OUT_DIR/whole-slide gets VL Whole Slide
Microscopy images with Burned In Annotation NO, some of which show the slide
label. Prints a JSON summary to standard output.
"""
import copy
import warnings
import json
import os
import sys

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

TABLE, SOURCE, OUT_DIR = sys.argv[1:4]

# UIDs that keep real values so that studies, series and references stay valid.
STRUCTURAL_UIDS = {0x00080018, 0x0020000D, 0x0020000E, 0x00200052, 0x00020003}
# Items of this sequence (not in table E.1-1, so the anonymizer keeps it and
# applies the rules inside) carry the nested markers.
NESTING_SEQUENCE = 0x00400260
PERSON_NAME = 0x0040A123
UID_ROOT = "2.25.9876543210"


def marker(tag):
    return "MRK%04X_%04X" % (tag >> 16, tag & 0xFFFF)


def raw(tag, vr, text):
    value = text.encode("ascii")
    if len(value) % 2:
        value += b"_"
    return RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)


def table_tags():
    tags = []
    for line in open(TABLE, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        text = line.split("\t")[0].strip("()").replace(",", "")
        if "X" in text:
            text = {"50XXXXXX": "50003000", "60XX3000": "60003000", "60XX4000": "60004000"}[text]
        tags.append(int(text, 16))
    return tags


def dictionary_vr(tag):
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return None
    return vr.split(" or ")[0]


def add_markers(dataset, tags, level):
    """Adds a marked element for every table tag; returns the markers written."""
    written = []
    for tag in tags:
        if tag in STRUCTURAL_UIDS or tag >> 16 in (0x0002, 0xFFFA, 0xFFFC):
            continue
        vr = dictionary_vr(tag)
        if vr is None:
            continue
        text = "%s_L%d" % (marker(tag), level)
        if vr == "SQ":
            item = Dataset()
            item._dict[Tag(PERSON_NAME)] = raw(PERSON_NAME, "PN", text)
            dataset.add_new(tag, "SQ", Sequence([item]))
        else:
            dataset._dict[Tag(tag)] = raw(tag, vr, text)
        written.append(text)
    add_private(dataset, level)
    return written


def add_private(dataset, level):
    dataset._dict[Tag(0x00090010)] = raw(0x00090010, "LO", "MRK CREATOR")
    dataset._dict[Tag(0x00091001)] = raw(0x00091001, "LO", "MRKPRIV_0009_1001_L%d" % level)
    item = Dataset()
    item._dict[Tag(0x00091001)] = raw(0x00091001, "LO", "MRKPRIV_ITEM_L%d" % level)
    dataset.add_new(0x00091002, "SQ", Sequence([item]))
    dataset._dict[Tag(0x00110010)] = raw(0x00110010, "LO", "SAFE CREATOR")
    dataset._dict[Tag(0x00111001)] = raw(0x00111001, "LO", "SAFEVALUE_L%d" % level)


def nested(tags, depth, level=1):
    item = Dataset()
    add_markers(item, tags, level)
    if depth > 1:
        item.add_new(NESTING_SEQUENCE, "SQ", Sequence([nested(tags, depth - 1, level + 1)]))
    return item


def build(source, tags, index, series, sop_uid, study_uid, series_uid, frame_uid, reference=None):
    ds = copy.deepcopy(source)
    markers = add_markers(ds, tags, 0)
    ds.add_new(NESTING_SEQUENCE, "SQ", Sequence([nested(tags, 3)]))
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.InstanceNumber = index
    ds.SeriesNumber = series
    ds.BurnedInAnnotation = "NO"
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    if reference is not None:
        ref = Dataset()
        ref.ReferencedSOPClassUID = source.SOPClassUID
        ref.ReferencedSOPInstanceUID = reference
        ds.ReferencedImageSequence = Sequence([ref])
    # Elements after Pixel Data: a signature sequence and trailing padding.
    sig = Dataset()
    sig._dict[Tag(PERSON_NAME)] = raw(PERSON_NAME, "PN", marker(0xFFFAFFFA))
    ds.add_new(0xFFFAFFFA, "SQ", Sequence([sig]))
    ds._dict[Tag(0xFFFCFFFC)] = raw(0xFFFCFFFC, "OB", marker(0xFFFCFFFC))
    return ds, markers + [marker(0xFFFAFFFA), marker(0xFFFCFFFC)]


# SOP classes for the hold-back test: (file name, SOP Class UID, Modality, expected status).
HOLD_BACK_IMAGES = [
    ("xa", "1.2.840.10008.5.1.4.1.1.12.1", "XA", "held"),
    ("rf", "1.2.840.10008.5.1.4.1.1.12.2", "RF", "held"),
    ("es", "1.2.840.10008.5.1.4.1.1.77.1.1", "ES", "held"),
    ("video-es", "1.2.840.10008.5.1.4.1.1.77.1.1.1", "ES", "held"),
    ("gm", "1.2.840.10008.5.1.4.1.1.77.1.2", "GM", "held"),
    ("sm", "1.2.840.10008.5.1.4.1.1.77.1.3", "SM", "held"),
    ("xc", "1.2.840.10008.5.1.4.1.1.77.1.4", "XC", "held"),
    ("video-xc", "1.2.840.10008.5.1.4.1.1.77.1.4.1", "XC", "held"),
    ("op", "1.2.840.10008.5.1.4.1.1.77.1.5.1", "OP", "held"),
    ("op-wide-field-stereographic", "1.2.840.10008.5.1.4.1.1.77.1.5.5", "OP", "held"),
    ("op-wide-field-3d", "1.2.840.10008.5.1.4.1.1.77.1.5.6", "OP", "held"),
    ("wsi", "1.2.840.10008.5.1.4.1.1.77.1.6", "SM", "held"),
    ("dermoscopy", "1.2.840.10008.5.1.4.1.1.77.1.7", "XC", "held"),
    ("confocal", "1.2.840.10008.5.1.4.1.1.77.1.8", "OT", "held"),
    ("confocal-tiled", "1.2.840.10008.5.1.4.1.1.77.1.9", "OT", "held"),
    ("vl-trial", "1.2.840.10008.5.1.4.1.1.77.1", "OT", "held"),
    ("vl-multiframe-trial", "1.2.840.10008.5.1.4.1.1.77.2", "OT", "held"),
    ("photoacoustic", "1.2.840.10008.5.1.4.1.1.6.3", "PA", "held"),
    ("sc-multiframe", "1.2.840.10008.5.1.4.1.1.7.4", "OT", "held"),
    ("ct", "1.2.840.10008.5.1.4.1.1.2", "CT", "written"),
    ("mr", "1.2.840.10008.5.1.4.1.1.4", "MR", "written"),
    ("nm", "1.2.840.10008.5.1.4.1.1.20", "NM", "written"),
]
# VL Whole Slide Microscopy images with Burned In Annotation NO: (file name,
# Image Type, Specimen Label in Image, expected status). LABEL and OVERVIEW
# images show the slide label (PS3.3 C.8.12.4.1.1).
WHOLE_SLIDE_IMAGES = [
    ("wsi-label", ["ORIGINAL", "PRIMARY", "LABEL", "NONE"], "NO", "held"),
    ("wsi-overview", ["ORIGINAL", "PRIMARY", "OVERVIEW", "NONE"], "NO", "held"),
    ("wsi-volume-with-label", ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"], "YES", "held"),
    ("wsi-volume", ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"], "NO", "written"),
    ("wsi-thumbnail", ["DERIVED", "PRIMARY", "THUMBNAIL", "RESAMPLED"], "NO", "written"),
]
# Encapsulated Document Storage SOP classes with their MIME types and document bytes that name the patient.
HOLD_BACK_DOCUMENTS = [
    ("pdf", "1.2.840.10008.5.1.4.1.1.104.1", "application/pdf", b"%PDF-1.4\n1 0 obj<</Title(Zzyzxova referral)>>endobj\n%%EOF\n"),
    ("cda", "1.2.840.10008.5.1.4.1.1.104.2", "text/XML", b"<ClinicalDocument><name>Zzyzxova</name></ClinicalDocument>"),
    ("stl", "1.2.840.10008.5.1.4.1.1.104.3", "model/stl", b"solid Zzyzxova\nendsolid Zzyzxova\n"),
]


def write_hold_back_inputs(source, out_dir):
    """Writes the hold-back inputs; returns their paths with the expected status."""
    written = []
    for index, (name, sop_class, modality, expected) in enumerate(HOLD_BACK_IMAGES):
        ds = copy.deepcopy(source)
        ds.SOPClassUID = sop_class
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.SOPInstanceUID = "%s.5.%d" % (UID_ROOT, index)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.Modality = modality
        if "BurnedInAnnotation" in ds:
            del ds.BurnedInAnnotation
        path = "%s/%s.dcm" % (out_dir, name)
        ds.save_as(path, write_like_original=False)
        written.append({"path": path, "expected": expected})
    for index, (name, sop_class, mime_type, document) in enumerate(HOLD_BACK_DOCUMENTS):
        ds = Dataset()
        ds.file_meta = copy.deepcopy(source.file_meta)
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.file_meta.MediaStorageSOPInstanceUID = "%s.6.%d" % (UID_ROOT, index)
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = UID_ROOT + ".1"
        ds.SeriesInstanceUID = "%s.6.%d.1" % (UID_ROOT, index)
        ds.Modality = "DOC" if name != "stl" else "M3D"
        ds.PatientName = "Zzyzxova^Anna"
        ds.PatientID = "ZZ123"
        ds.BurnedInAnnotation = "NO"
        ds.DocumentTitle = "Referral Zzyzxova"
        ds.MIMETypeOfEncapsulatedDocument = mime_type
        ds.EncapsulatedDocument = document + (b"\0" if len(document) % 2 else b"")
        path = "%s/%s.dcm" % (out_dir, name)
        ds.save_as(path, write_like_original=False)
        written.append({"path": path, "expected": "held"})
    return written


def write_whole_slide_inputs(source, out_dir):
    """Writes the whole slide images; returns their paths with the expected status."""
    written = []
    for index, (name, image_type, specimen_label, expected) in enumerate(WHOLE_SLIDE_IMAGES):
        ds = copy.deepcopy(source)
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.6"
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.SOPInstanceUID = "%s.7.%d" % (UID_ROOT, index)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.Modality = "SM"
        ds.ImageType = image_type
        ds.BurnedInAnnotation = "NO"
        ds.SpecimenLabelInImage = specimen_label
        path = "%s/%s.dcm" % (out_dir, name)
        ds.save_as(path, write_like_original=False)
        written.append({"path": path, "expected": expected})
    return written


def write_unlisted_text_input(source, path):
    """Writes an image with person names and free text outside table E.1-1, in ISO_IR 144.

    Every value to be replaced contains the marker Zzyzx or its Cyrillic
    spelling; the coded text that is kept contains "Kept".
    """
    ds = copy.deepcopy(source)
    ds.SpecificCharacterSet = "ISO_IR 144"
    ds.BurnedInAnnotation = "NO"
    ds.add_new(0x00400400, "LT", "Пациент Зызыкова, аллергия")  # Comments on the Scheduled Procedure Step
    ds.add_new(0x00140104, "PN", "Zzyzxreviewer^Ivan")  # Secondary Reviewer Name
    ds.add_new(0x00142006, "PN", "Зызыков^Пётр")  # Evaluator Name
    ds.add_new(0x00880130, "SH", "ZZYZXDISC")  # Storage Media File-set ID
    ds.add_new(0x00420010, "ST", "Referral Zzyzxova")  # Document Title
    code = Dataset()
    code.CodeValue = "KEPT1"
    code.CodingSchemeDesignator = "99KEPT"
    code.CodeMeaning = "Kept code meaning"
    code.add_new(0x00080108, "LT", "Kept extended code meaning")  # Extended Code Meaning
    code.add_new(0x00142006, "PN", "Zzyzxnested^Anna")  # Evaluator Name inside a sequence
    ds.add_new(NESTING_SEQUENCE, "SQ", Sequence([code]))
    ds.save_as(path, write_like_original=False)


def main():
    # pydicom warns about every marker that is not valid for its VR; that is intended here.
    warnings.simplefilter("ignore")
    source = pydicom.dcmread(SOURCE)
    tags = table_tags()
    study = UID_ROOT + ".1"
    frame = UID_ROOT + ".4"
    files = []
    plan = [
        (1, 1, UID_ROOT + ".3.1", UID_ROOT + ".2.1", None),
        (2, 1, UID_ROOT + ".3.2", UID_ROOT + ".2.1", None),
        (3, 2, UID_ROOT + ".3.3", UID_ROOT + ".2.2", UID_ROOT + ".3.1"),
    ]
    markers = []
    for index, series, sop, series_uid, reference in plan:
        ds, markers = build(source, tags, index, series, sop, study, series_uid, frame, reference)
        path = "%s/study/marked-%d.dcm" % (OUT_DIR, index)
        ds.save_as(path, write_like_original=False)
        files.append({"path": path, "sop": sop, "series": series_uid, "study": study, "reference": reference})

    burned = copy.deepcopy(source)
    burned.BurnedInAnnotation = "YES"
    burned.save_as("%s/burned-yes.dcm" % OUT_DIR, write_like_original=False)
    ultrasound = copy.deepcopy(source)
    ultrasound.Modality = "US"
    if "BurnedInAnnotation" in ultrasound:
        del ultrasound.BurnedInAnnotation
    ultrasound.save_as("%s/us-unset.dcm" % OUT_DIR, write_like_original=False)
    write_unlisted_text_input(source, "%s/unlisted-text.dcm" % OUT_DIR)
    # A private block after Pixel Data, for the Retain Safe Private code test.
    tail = copy.deepcopy(source)
    tail.BurnedInAnnotation = "NO"
    tail.add_new(0x7FE10010, "LO", "TAIL CREATOR")
    tail.add_new(0x7FE11001, "LO", "TAILVALUE")
    tail.save_as("%s/tail-private.dcm" % OUT_DIR, write_like_original=False)
    os.makedirs("%s/hold-back" % OUT_DIR, exist_ok=True)
    hold_back = write_hold_back_inputs(source, "%s/hold-back" % OUT_DIR)
    os.makedirs("%s/whole-slide" % OUT_DIR, exist_ok=True)
    whole_slide = write_whole_slide_inputs(source, "%s/whole-slide" % OUT_DIR)

    json.dump(
        {
            "files": files,
            "markers": markers,
            "originalUids": [study, frame] + [f["sop"] for f in files] + [f["series"] for f in files],
            "frameOfReference": frame,
            "holdBack": hold_back,
            "wholeSlide": whole_slide,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
