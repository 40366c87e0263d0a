/**
 * Instances that the anonymizer holds back because they may contain
 * identifying text outside the attributes of table E.1-1: text burned into
 * the pixel data, which the Clean Pixel Data option (PS3.15 E.3.1) would
 * remove and this anonymizer does not, or an encapsulated document. Such an
 * instance is written only with allowBurnedIn.
 */
import { Dataset } from '../dataset';
import { Tags } from '../tags';

const BURNED_IN_ANNOTATION = 0x00280301;
/** Specimen Label in Image (0048,0010) of the Whole Slide Microscopy Image Module (PS3.3 C.8.12.4). */
const SPECIMEN_LABEL_IN_IMAGE = 0x00480010;
/** Encapsulated Document (0042,0011), the PDF, CDA or 3D model of an Encapsulated Document IOD (PS3.3 C.24.2). */
const ENCAPSULATED_DOCUMENT = 0x00420011;

/**
 * Encapsulated Document Storage SOP classes (PS3.4 annex B, UIDs from PS3.6
 * annex A). The tags of table E.1-1 do not reach the document itself, whose
 * title, author and text often name the patient.
 */
const ENCAPSULATED_DOCUMENT_SOP_CLASSES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.10008.5.1.4.1.1.104.1', 'Encapsulated PDF Storage'],
  ['1.2.840.10008.5.1.4.1.1.104.2', 'Encapsulated CDA Storage'],
  ['1.2.840.10008.5.1.4.1.1.104.3', 'Encapsulated STL Storage'],
  ['1.2.840.10008.5.1.4.1.1.104.4', 'Encapsulated OBJ Storage'],
  ['1.2.840.10008.5.1.4.1.1.104.5', 'Encapsulated MTL Storage'],
]);

/**
 * Image Storage SOP classes whose devices commonly write text into the
 * pixels or photograph it, so an instance without Burned In Annotation
 * (0028,0301) is taken to have some. Listed are the ultrasound, photoacoustic,
 * X-ray angiographic and radiofluoroscopic classes and the visible light
 * endoscopy, microscopy and photography classes, with their video variants, of
 * PS3.4 table B.5-1 (UIDs from PS3.6 annex A). Secondary Capture classes are
 * matched by their UID prefix. CT, MR, PT, NM and the other cross-sectional
 * classes are not listed, because, as PS3.15 E.3.1 note 1 says of CT, they do
 * not normally contain burned-in annotation.
 * NOTE: Photoacoustic and Confocal Microscopy Image Storage are newer than the
 * 2022 PS3.6 that STORAGE_SOP_CLASSES in uid.ts follows.
 */
const BURNED_IN_PRONE_SOP_CLASSES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.10008.5.1.4.1.1.6', 'Ultrasound Image Storage (retired)'],
  ['1.2.840.10008.5.1.4.1.1.6.1', 'Ultrasound Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.6.2', 'Enhanced US Volume Storage'],
  // Photoacoustic scanners are commonly coupled with ultrasound scanners (PS3.17 annex AAAAA).
  ['1.2.840.10008.5.1.4.1.1.6.3', 'Photoacoustic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.3', 'Ultrasound Multi-frame Image Storage (retired)'],
  ['1.2.840.10008.5.1.4.1.1.3.1', 'Ultrasound Multi-frame Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.12.1', 'X-Ray Angiographic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.12.1.1', 'Enhanced XA Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.12.2', 'X-Ray Radiofluoroscopic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.12.2.1', 'Enhanced XRF Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.12.3', 'X-Ray Angiographic Bi-Plane Image Storage (retired)'],
  ['1.2.840.10008.5.1.4.1.1.77.1', 'VL Image Storage - Trial (retired)'],
  ['1.2.840.10008.5.1.4.1.1.77.2', 'VL Multi-frame Image Storage - Trial (retired)'],
  ['1.2.840.10008.5.1.4.1.1.77.1.1', 'VL Endoscopic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.1.1', 'Video Endoscopic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.2', 'VL Microscopic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.2.1', 'Video Microscopic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.3', 'VL Slide-Coordinates Microscopic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.4', 'VL Photographic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.4.1', 'Video Photographic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.1', 'Ophthalmic Photography 8 Bit Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.2', 'Ophthalmic Photography 16 Bit Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.5', 'Wide Field Ophthalmic Photography Stereographic Projection Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.6', 'Wide Field Ophthalmic Photography 3D Coordinates Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.6', 'VL Whole Slide Microscopy Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.7', 'Dermoscopic Photography Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.8', 'Confocal Microscopy Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.9', 'Confocal Microscopy Tiled Pyramidal Image Storage'],
]);

const WHOLE_SLIDE_MICROSCOPY_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.77.1.6';

/**
 * Image Type (0008,0008) values of a whole slide image that shows the slide
 * label (PS3.3 C.8.12.4.1.1): a LABEL image captures the label, and an
 * OVERVIEW image shows the entire glass slide, which shall include the label.
 * The label often carries the patient's name or an accession number, so these
 * images are held back even with Burned In Annotation NO.
 */
const SLIDE_LABEL_IMAGE_TYPES = ['LABEL', 'OVERVIEW'];

const SECONDARY_CAPTURE_PREFIX = '1.2.840.10008.5.1.4.1.1.7';

/**
 * Returns why an instance is held back, or undefined when it may be written.
 * Held back are encapsulated documents and whole slide images of the slide
 * label whatever the value of Burned In Annotation, images with Burned In
 * Annotation YES, and images of a burned-in-prone class without the value NO.
 */
export function holdBackReason(dataset: Dataset): string | undefined {
  const sopClass = (dataset.getString(Tags.SOPClassUID) ?? '').trim();
  const documentClass = ENCAPSULATED_DOCUMENT_SOP_CLASSES.get(sopClass);
  if (documentClass !== undefined) {
    return `${documentClass} instance: the anonymizer does not de-identify the encapsulated document, whose text may name the patient`;
  }
  if (dataset.elements.has(ENCAPSULATED_DOCUMENT)) {
    return 'Encapsulated Document (0042,0011) is present: the anonymizer does not de-identify the encapsulated document, whose text may name the patient';
  }

  if (sopClass === WHOLE_SLIDE_MICROSCOPY_IMAGE_STORAGE) {
    const slideLabelReason = wholeSlideLabelReason(dataset);
    if (slideLabelReason !== undefined) return slideLabelReason;
  }

  const burnedIn = (dataset.getString(BURNED_IN_ANNOTATION) ?? '').toUpperCase();
  if (burnedIn === 'YES') return 'Burned In Annotation (0028,0301) is YES';
  if (burnedIn === 'NO') return undefined;
  const modality = (dataset.getString(Tags.Modality) ?? '').toUpperCase();
  if (modality === 'US') return 'ultrasound image without Burned In Annotation (0028,0301) NO';
  if (sopClass === SECONDARY_CAPTURE_PREFIX || sopClass.startsWith(`${SECONDARY_CAPTURE_PREFIX}.`)) {
    return 'Secondary Capture image without Burned In Annotation (0028,0301) NO';
  }
  const imageClass = BURNED_IN_PRONE_SOP_CLASSES.get(sopClass);
  if (imageClass !== undefined) return `${imageClass} instance without Burned In Annotation (0028,0301) NO`;
  return undefined;
}

/** Returns why a whole slide image shows the slide label, or undefined when neither Image Type nor Specimen Label in Image marks it. */
function wholeSlideLabelReason(dataset: Dataset): string | undefined {
  const imageType = dataset.getStrings(Tags.ImageType).map((value) => value.toUpperCase());
  const labelType = SLIDE_LABEL_IMAGE_TYPES.find((value) => imageType.includes(value));
  if (labelType !== undefined) {
    return `VL Whole Slide Microscopy Image with Image Type (0008,0008) ${labelType}: the image shows the slide label, which may name the patient`;
  }
  if ((dataset.getString(SPECIMEN_LABEL_IN_IMAGE) ?? '').toUpperCase() === 'YES') {
    return 'VL Whole Slide Microscopy Image with Specimen Label in Image (0048,0010) YES: the slide label may name the patient';
  }
  return undefined;
}
