"""DICOM file helpers for the end-to-end tests, run with /usr/bin/python3 (pydicom 2.3).

Commands:
  read FILE...                  Print a JSON list with the decoded main attributes of each file.
  query OUT CHARSET LEVEL JSON  Write a C-FIND identifier file with values encoded in CHARSET.
  big OUT MEGABYTES UIDROOT     Write an uncompressed multi-frame MR file of about MEGABYTES.
"""
import json
import sys

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

ATTRIBUTES = [
    "SpecificCharacterSet", "QueryRetrieveLevel", "PatientName", "PatientID", "StudyInstanceUID",
    "SeriesInstanceUID", "SOPInstanceUID", "StudyDate", "ModalitiesInStudy", "Modality",
    "NumberOfStudyRelatedInstances", "NumberOfSeriesRelatedInstances", "RetrieveAETitle",
]


def text_of(value):
    if isinstance(value, pydicom.multival.MultiValue):
        return "\\".join(text_of(item) for item in value)
    if isinstance(value, pydicom.valuerep.PersonName):
        # Decoded groups joined with "=", like the corpus manifest.
        return str(value)
    return str(value)


def read(files):
    result = []
    for name in files:
        dataset = pydicom.dcmread(name, force=True)
        dataset.decode()
        entry = {"file": name}
        for keyword in ATTRIBUTES:
            if keyword in dataset:
                entry[keyword] = text_of(dataset.data_element(keyword).value)
        meta = getattr(dataset, "file_meta", None)
        entry["TransferSyntaxUID"] = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None
        result.append(entry)
    print(json.dumps(result, ensure_ascii=False))


def query(out, charset, level, keys_json):
    keys = json.loads(keys_json)
    dataset = Dataset()
    if charset:
        dataset.SpecificCharacterSet = charset.split("\\")
    dataset.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(dataset, keyword, value)
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    dataset.is_little_endian = True
    dataset.is_implicit_VR = True
    # The value bytes must be in CHARSET, which pydicom uses when it writes.
    pydicom.dcmwrite(out, dataset, write_like_original=True)


def big(out, megabytes, uid_root):
    import numpy

    rows = columns = 512
    frame_bytes = rows * columns * 2
    frames = max(1, int(megabytes) * 1024 * 1024 // frame_bytes)
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    dataset.file_meta.MediaStorageSOPInstanceUID = uid_root + ".3"
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    dataset.SOPInstanceUID = uid_root + ".3"
    dataset.StudyInstanceUID = uid_root + ".1"
    dataset.SeriesInstanceUID = uid_root + ".2"
    dataset.PatientName = "Large^Multiframe"
    dataset.PatientID = "LDR-LARGE"
    dataset.StudyDate = "20240101"
    dataset.Modality = "MR"
    dataset.Rows = rows
    dataset.Columns = columns
    dataset.NumberOfFrames = frames
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = 16
    dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    pixels = numpy.random.default_rng(7).integers(0, 65535, size=(frames, rows, columns), dtype=numpy.uint16)
    dataset.PixelData = pixels.tobytes()
    dataset.is_little_endian = True
    dataset.is_implicit_VR = False
    pydicom.dcmwrite(out, dataset, write_like_original=False)


def main():
    command = sys.argv[1]
    if command == "read":
        read(sys.argv[2:])
    elif command == "query":
        query(*sys.argv[2:6])
    elif command == "big":
        big(*sys.argv[2:5])
    else:
        sys.exit(f"unknown command {command}: expected read, query or big")


if __name__ == "__main__":
    main()
