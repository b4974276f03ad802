/** Pure helpers of the reward functions, usable without DI: NLTK-equal BLEU, SciPy/scikit-learn-equal clustering. */
export {
  fsum,
  modifiedPrecision,
  ngramProfile,
  pySplit,
  sentenceBleu,
  sentenceBleuProfiles,
  sentenceBleuText,
  type BleuOptions,
  type NgramProfile,
} from './bleu.js';
export { agglomerativeLabels, averageLinkage, type Merge } from './cluster.js';
export { bleuDistanceMatrix, repetitionShares, type RepetitionResult } from './repetition.js';
export {
  combineCurriculum,
  resolveCurriculum,
  uncertaintyReward,
  type CurriculumEvidence,
  type CurriculumTerms,
} from './components/curriculum.js';
export { countOccurrences, toolReward } from './components/tool-use.js';
